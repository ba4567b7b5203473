package main

import (
	"bytes"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conserva/conserva/internal/testpki"
	"github.com/conserva/conserva/timestamp"
)

// noSecret fails when secret appears in any output or in any file under dir
// (but the files named in except).
func noSecret(t *testing.T, secret, dir string, except []string, outputs ...result) {
	t.Helper()
	for _, r := range outputs {
		if strings.Contains(r.stdout, secret) || strings.Contains(r.stderr, secret) {
			t.Errorf("the password was printed:\nstdout: %s\nstderr: %s", r.stdout, r.stderr)
		}
	}
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		for _, x := range except {
			if e.Name() == x {
				return nil
			}
		}
		data, err := os.ReadFile(p)
		if err == nil && bytes.Contains(data, []byte(secret)) {
			t.Errorf("the password was written into %s", p)
		}
		return nil
	})
}

// TestSecretsInURLsNeverShown: a password written inside a TSA URL or a
// [[source]] url reaches no output, log or stored file.
func TestSecretsInURLsNeverShown(t *testing.T) {
	t.Run("tsa-url", func(t *testing.T) {
		const secret = "Sup3rSecretTSA"
		home := t.TempDir()
		ingestFixtures(t, home, 2)
		// The TSA answers until a package index is stored (the seal's
		// probe for its certificate, validation.go), then fails.
		ca := testpki.Root(t, "TSA CA", testpki.Options{})
		id := ca.Issue(t, "TSA", testpki.Options{TimeStamping: true})
		dev := (&timestamp.Dev{Cert: id.Cert, Key: id.Key, Chain: id.Chain}).Handler()
		tsa := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if idx, _ := filepath.Glob(filepath.Join(home, "store", "packages", "*", "index.xml")); len(idx) == 0 {
				dev.ServeHTTP(w, r)
				return
			}
			http.Error(w, "down", http.StatusInternalServerError)
		}))
		defer tsa.Close()
		host := strings.TrimPrefix(tsa.URL, "http://")
		roots := filepath.Join(t.TempDir(), "tsa-ca.pem")
		os.WriteFile(roots, testpki.PEM(ca.Cert), 0o644)
		var outs []result
		for _, u := range []string{"https://u:" + secret + "@" + host + "/tsa", "http://u:" + secret + "@" + host + "/tsa"} {
			for _, json := range []bool{false, true} {
				args := []string{"--archive", home, "seal", "--tsa-url", u, "--tsa-roots", roots}
				if json {
					args = append(args, "--json")
				}
				r := conserva(t, args...)
				if r.code != 1 || !strings.Contains(r.stderr, "TSA") || !strings.Contains(r.stderr, "u@"+host) {
					t.Fatalf("seal against a failing TSA: exit %d, stderr %q (want exit 1 naming the TSA without its password)", r.code, r.stderr)
				}
				outs = append(outs, r)
			}
		}
		// The package index names the TSA by its URL without userinfo.
		idx, _ := filepath.Glob(filepath.Join(home, "store", "packages", "*", "index.xml"))
		if len(idx) == 0 {
			t.Fatal("no index was written before the TSA was asked")
		}
		noSecret(t, secret, home, nil, outs...)
	})
	t.Run("source-url", func(t *testing.T) {
		const secret = "Sup3rSecretIMAP"
		home := t.TempDir()
		if r := conserva(t, "--archive", home, "search"); r.code != 0 {
			t.Fatalf("creating the archive: %d %s", r.code, r.stderr)
		}
		cfg := filepath.Join(home, "conserva.toml")
		data, _ := os.ReadFile(cfg)
		data = append(data, []byte("\n[[source]]\nurl = \"imaps://protocollo%40ente.it:"+secret+"@127.0.0.1:1/INBOX\"\nlabel = \"Protocollo\"\n"+
			"[[source]]\nurl = \"imap://x:"+secret+"@[::1\"\n")...)
		os.WriteFile(cfg, data, 0o644)
		t.Setenv("CONSERVA_IMAP_PASSWORD", "irrelevant")
		r1 := conserva(t, "--archive", home, "run")
		r2 := conserva(t, "--archive", home, "run", "--json")
		for _, r := range []result{r1, r2} {
			if r.code != 1 || !strings.Contains(r.stdout, "protocollo%40ente.it@127.0.0.1:1/INBOX") {
				t.Errorf("run with unreachable sources: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
		}
		// The configuration file is the user's own: it holds what they wrote.
		os.Remove(cfg)
		noSecret(t, secret, home, nil, r1, r2)
	})
}
