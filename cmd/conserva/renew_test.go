package main

import (
	"github.com/conserva/conserva/internal/testutil"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/internal/testpki"
	"github.com/conserva/conserva/timestamp"
)

// tsaExpiring serves a throwaway TSA whose certificate expires at notAfter
// and configures the archive at home to seal with it (and pin its CA).
func tsaExpiring(t *testing.T, home string, notAfter time.Time) {
	t.Helper()
	ca := testpki.Root(t, "Renewal Test TSA CA", testpki.Options{CA: true, NotAfter: time.Now().AddDate(40, 0, 0)})
	tsa := ca.Issue(t, "Renewal Test TSA", testpki.Options{TimeStamping: true, NotAfter: notAfter})
	srv := httptest.NewServer((&timestamp.Dev{Cert: tsa.Cert, Key: tsa.Key, Chain: tsa.Chain}).Handler())
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "tsa-ca.pem")
	os.WriteFile(caFile, testpki.PEM(ca.Cert), 0o644)
	cfg := filepath.Join(home, "conserva.toml")
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.Replace(string(data), `# tsa_url = "https://tsa.example.it/tsa"`, "tsa_url = "+quote(srv.URL), 1)
	conf = strings.Replace(conf, `# tsa_roots = "/etc/conserva/tsa-ca.pem"`, "tsa_roots = "+quote(caFile), 1)
	if conf == string(data) {
		t.Fatal("conserva.toml has no tsa_url/tsa_roots lines to replace")
	}
	// conserva run wants a source: an empty folder.
	conf += "\n[[source]]\nurl = " + quote(t.TempDir()) + "\n"
	os.WriteFile(cfg, []byte(conf), 0o644)
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `\`, `\\`) + `"` }

// ersVersions counts, per package, the complete record versions.
func ersVersions(t *testing.T, home string) map[string]int {
	t.Helper()
	out := map[string]int{}
	pkgs, _ := filepath.Glob(filepath.Join(home, "store", "packages", "*"))
	for _, p := range pkgs {
		// A version is complete when its segment is stored.
		v := 0
		for {
			if seg, _ := testutil.ERSSegment(p, "index.xml", v+1); !fileExists(seg) {
				break
			}
			v++
		}
		out[filepath.Base(p)] = v
	}
	return out
}

func fmtInt(n int) string { return strconv.Itoa(n) }

// TestRunRenewsWhenTheTSAExpiresSoon: a TSA whose certificate expires
// within the margin (2 years) has its archive timestamps renewed by
// conserva run; one far from expiry does not.
func TestRunRenewsWhenTheTSAExpiresSoon(t *testing.T) {
	for _, c := range []struct {
		name     string
		notAfter time.Time
		renewed  bool
	}{{"expires in a year", time.Now().AddDate(1, 0, 0), true}, {"expires in ten years", time.Now().AddDate(10, 0, 0), false}} {
		t.Run(c.name, func(t *testing.T) {
			home := filepath.Join(t.TempDir(), "archive")
			ingestFixtures(t, home, 3)
			tsaExpiring(t, home, c.notAfter)
			r := conserva(t, "--archive", home, "run")
			if r.code != 0 || !strings.Contains(r.stdout, "sealed package") {
				t.Fatalf("run: %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			vs := ersVersions(t, home)
			if len(vs) != 1 {
				t.Fatalf("packages %v", vs)
			}
			for _, v := range vs {
				if got := v == 2; got != c.renewed || (!c.renewed && v != 1) {
					t.Fatalf("record versions %d after run, renewal wanted: %v\n%s", v, c.renewed, r.stdout)
				}
			}
			if c.renewed != strings.Contains(r.stdout, "timestamp renewal") {
				t.Fatalf("run output:\n%s", r.stdout)
			}
			a := auditJSON(t, home)
			if a.code != 0 {
				t.Fatalf("audit after run: %s", a.stdout)
			}
		})
	}
}

func auditJSON(t *testing.T, home string) result {
	t.Helper()
	return conserva(t, "--archive", home, "audit", "--json")
}

// TestRenewSurvivesKill9 kills renewals at several moments; a rerun
// completes, every package's latest version holds a record for every
// message, and audit finds every record valid.
func TestRenewSurvivesKill9(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(t.TempDir(), "archive")
	const n = 300
	ingestFixtures(t, home, n)
	if r := conserva(t, "--archive", home, "seal"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	resumed := 0
	for _, d := range []time.Duration{20, 50, 90, 140, 220} {
		for _, args := range [][]string{{"renew", "--force"}, {"renew", "--digest", "sha512"}} {
			cmd := exec.Command(bin, append([]string{"--archive", home}, args...)...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(d * time.Millisecond)
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
			if strings.Contains(stderr.String(), "resuming an interrupted renewal") {
				resumed++
			}
		}
	}
	t.Logf("%d runs resumed a killed renewal", resumed)
	if r := conserva(t, "--archive", home, "renew", "--force"); r.code != 0 {
		t.Fatalf("rerun: %d %s %s", r.code, r.stdout, r.stderr)
	}
	a, err := archive.Open(home, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	a.Catalog.Scan(func(r *archive.Record) error { ids = append(ids, r.ID); return nil })
	a.Close()
	for pkg, v := range ersVersions(t, home) {
		if v < 2 {
			t.Fatalf("package %s: version %d after a completed renewal", pkg, v)
		}
		for _, id := range ids {
			seg, member := testutil.ERSSegment(filepath.Join(home, "store", "packages", pkg), id, v)
			testutil.ReadMember(t, seg, member) // fails the test when absent
		}
	}
	r := auditJSON(t, home)
	if r.code != 0 || !strings.Contains(r.stdout, `"ers":{"checked":306,"valid":306`) {
		t.Fatalf("audit after the kills: %d %s", r.code, r.stdout)
	}
}
