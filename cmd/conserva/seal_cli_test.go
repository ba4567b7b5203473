package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/internal/devpki"
	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/pec"
	"software.sslmate.com/src/go-pkcs12"
)

func ingestFixtures(t *testing.T, home string, n int) {
	t.Helper()
	set := fixtures(t)
	src := t.TempDir()
	for i := 0; i < n; i++ {
		raw, err := set.Provider.Build(pecgen.Spec{Kind: pec.KindAccettazione, Subject: fmt.Sprint("n. ", i)})
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(src, fmt.Sprintf("%05d.eml", i)), raw, 0o644)
	}
	if r := conserva(t, "--archive", home, "ingest", "--json", "--trust", set.TrustPEM, src); r.code != 0 {
		t.Fatalf("ingest: %d %s", r.code, r.stderr)
	}
}

func opensslOK(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(testutil.Tool(t, "openssl"), args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestSealWithUserSignerAndTSA: a PKCS#12 signer the user brings and the
// TSA served by `conserva tsa serve` from another home.
func TestSealWithUserSignerAndTSA(t *testing.T) {
	tsaHome := t.TempDir()
	url := startTSA(t, tsaHome) + "/"

	userKeys, err := devpki.LoadOrCreate(filepath.Join(t.TempDir(), "user"))
	if err != nil {
		t.Fatal(err)
	}
	p12, err := pkcs12.Modern.Encode(userKeys.Signer.Key, userKeys.Signer.Cert, []*x509.Certificate{userKeys.CA}, "segreta")
	if err != nil {
		t.Fatal(err)
	}
	p12Path := filepath.Join(t.TempDir(), "responsabile.p12")
	os.WriteFile(p12Path, p12, 0o600)

	home := filepath.Join(t.TempDir(), "archive")
	ingestFixtures(t, home, 3)
	t.Setenv("CONSERVA_SIGNER_PASSWORD", "segreta")
	ca := filepath.Join(t.TempDir(), "user-ca.pem")
	os.WriteFile(ca, pecgen.PEM(userKeys.CA), 0o644)
	tsaCA := filepath.Join(tsaHome, "keys", "dev-ca.pem")
	// Without the roots that attribute them, a signer and a TSA are refused.
	if r := conserva(t, "--archive", home, "seal", "--tsa-url", url, "--tsa-roots", tsaCA, "--signer", p12Path); r.code != 1 || !strings.Contains(r.stderr, "signer_roots") {
		t.Fatalf("seal without the signer's roots: %d %s", r.code, r.stderr)
	}
	if r := conserva(t, "--archive", home, "seal", "--tsa-url", url, "--signer", p12Path, "--signer-roots", ca); r.code != 1 || !strings.Contains(r.stderr, "tsa_roots") {
		t.Fatalf("seal without the TSA's roots: %d %s", r.code, r.stderr)
	}
	// The CRL distribution point of these development certificates is
	// 127.0.0.1:3161, where nothing serves them here: sealed without.
	r := conserva(t, "--archive", home, "seal", "--json", "--tsa-url", url, "--tsa-roots", tsaCA, "--signer", p12Path, "--signer-roots", ca, "--revocation", "best-effort")
	var out map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 {
		t.Fatalf("seal: %d %q %s %v", r.code, r.stdout, r.stderr, err)
	}
	tsaKeys, err := devpki.LoadOrCreate(filepath.Join(tsaHome, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	if out["signer_root_sha256"] != fmt.Sprintf("%x", sha256.Sum256(userKeys.CA.Raw)) || out["tsa_root_sha256"] != fmt.Sprintf("%x", sha256.Sum256(tsaKeys.CA.Raw)) {
		t.Fatalf("seal --json does not name the roots the package chains to: %v", out)
	}
	if out["messages"] != 3.0 || out["package"] == nil || out["bytes"] == nil || out["timestamp"] == nil {
		t.Fatalf("seal --json: %v", out)
	}
	if _, err := os.Stat(filepath.Join(home, "keys")); err == nil {
		t.Fatal("development keys made although a signer and a TSA were given")
	}
	dir := filepath.Join(home, "store", "packages", out["package"].(string))
	opensslOK(t, dir, "cms", "-verify", "-binary", "-inform", "DER", "-in", "index.xml.p7s", "-content", "index.xml", "-CAfile", ca, "-out", os.DevNull)
	opensslOK(t, dir, "ts", "-verify", "-data", "index.xml.p7s", "-in", "index.xml.p7s.tsr", "-CAfile", filepath.Join(tsaHome, "keys", "dev-ca.pem"))

	t.Setenv("CONSERVA_SIGNER_PASSWORD", "sbagliata")
	ingestFixtures(t, home, 1)
	if r := conserva(t, "--archive", home, "seal", "--signer", p12Path); r.code != 2 && r.code != 1 || r.stderr == "" {
		t.Fatalf("wrong PKCS#12 password: exit %d %q", r.code, r.stderr)
	}
	if r := conserva(t, "--archive", home, "seal", "--json"); r.code != 0 || !strings.Contains(r.stdout, `"messages":1`) {
		t.Fatalf("development seal of the last one: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := conserva(t, "--archive", home, "seal", "--json"); strings.TrimSpace(r.stdout) != `{"messages":0}` {
		t.Fatalf("nothing pending: %q", r.stdout)
	}
}

// TestSealSurvivesKill9: seals killed at several moments, then one that
// finishes; every message ends in exactly one complete package.
func TestSealSurvivesKill9(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(t.TempDir(), "archive")
	const n = 400
	ingestFixtures(t, home, n)
	cfg := filepath.Join(home, "conserva.toml")
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(data), "max_package_messages = 100000", "max_package_messages = 60", 1)), 0o644)
	for _, d := range []time.Duration{15, 40, 80, 120, 200} {
		cmd := exec.Command(bin, "--archive", home, "seal", "--json")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(d * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		checkSealed(t, home, false)
	}
	if r := conserva(t, "--archive", home, "seal", "--json"); r.code != 0 {
		t.Fatalf("final seal: %d %s", r.code, r.stderr)
	}
	checkSealed(t, home, true)
	// Every message and package file has a valid evidence record, whatever
	// the kills interrupted (seal_ers.go's journal).
	r := conserva(t, "--archive", home, "audit", "--json")
	var rep struct {
		Packages int
		Problems []struct{ Key, Problem string }
		ERS      struct{ Checked, Valid int }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 || rep.ERS.Checked != n+6*rep.Packages || rep.ERS.Valid != rep.ERS.Checked {
		t.Fatalf("audit after the kills: %d %v %s", r.code, err, r.stdout)
	}
}

func checkSealed(t *testing.T, home string, complete bool) {
	t.Helper()
	a, err := archive.Open(home, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	indexes := map[string]string{}
	sealed, pending := 0, 0
	ids := map[string]bool{}
	err = a.Catalog.Scan(func(r *archive.Record) error {
		ids[r.ID] = true
		if r.Package == "" {
			pending++
			return nil
		}
		sealed++
		idx, ok := indexes[r.Package]
		if !ok {
			b, err := os.ReadFile(filepath.Join(home, "store", "packages", r.Package, "index.xml"))
			if err != nil {
				return fmt.Errorf("message %s recorded in package %s without an index: %v", r.ID, r.Package, err)
			}
			if _, err := os.Stat(filepath.Join(home, "store", "packages", r.Package, "index.xml.p7s.tsr")); err != nil {
				return fmt.Errorf("package %s recorded as sealed without its timestamp", r.Package)
			}
			idx = string(b)
			indexes[r.Package] = idx
		}
		if !strings.Contains(idx, r.ID) {
			return fmt.Errorf("message %s not in the index of its package %s", r.ID, r.Package)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// No message may appear in the index of a second recorded package
	// (the validation files, certificates and CRLs, are in every one).
	count := map[string]int{}
	for _, idx := range indexes {
		for _, line := range strings.Split(idx, "\n") {
			if !strings.Contains(line, "sincro:hashFunction=\"SHA-256\"") || !strings.Contains(line, "<sincro:Hash") {
				continue
			}
			h := strings.TrimSuffix(strings.TrimSpace(line), "</sincro:Hash>")
			if ids[h[strings.LastIndex(h, ">")+1:]] {
				count[line]++
			}
		}
	}
	for line, c := range count {
		if c > 1 {
			t.Fatalf("%s listed in %d packages", line, c)
		}
	}
	if complete && pending != 0 {
		t.Fatalf("%d messages still pending", pending)
	}
	t.Logf("sealed %d pending %d packages %d", sealed, pending, len(indexes))
}

// startTSA runs `conserva tsa serve` on home until the test ends and
// returns its base URL (no trailing slash).
func startTSA(t *testing.T, home string) string {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := exec.CommandContext(ctx, bin, "--archive", home, "tsa", "serve", "--addr", "127.0.0.1:0")
	stdout, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); srv.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.Contains(line, "http://") {
		t.Fatalf("tsa serve said %q (%v)", line, err)
	}
	return strings.TrimRight(strings.TrimSpace(line[strings.Index(line, "http://"):]), "/")
}
