package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLeftoversOfACrashAreNamed: an empty or truncated conserva.toml or
// dev-keys.pem, as a crash on a full disk leaves them, is a clear error
// naming the file; it never silently becomes the default or a new CA.
func TestLeftoversOfACrashAreNamed(t *testing.T) {
	t.Run("conserva.toml", func(t *testing.T) {
		for name, content := range map[string][]byte{"empty": nil, "zeroes": make([]byte, 4096)} {
			home := t.TempDir()
			cfg := filepath.Join(home, "conserva.toml")
			os.WriteFile(cfg, content, 0o644)
			r := conserva(t, "--archive", home, "search")
			if r.code != 2 || !strings.Contains(r.stderr, cfg+" is empty") || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("%s conserva.toml: exit %d, stderr %q; want exit 2 naming the file", name, r.code, r.stderr)
			}
			if got, _ := os.ReadFile(cfg); !bytes.Equal(got, content) {
				t.Errorf("%s conserva.toml was replaced", name)
			}
		}
	})
	t.Run("dev-keys.pem", func(t *testing.T) {
		home := t.TempDir()
		ingestFixtures(t, home, 1)
		if r := conserva(t, "--archive", home, "seal"); r.code != 0 {
			t.Fatalf("first seal: %d %s", r.code, r.stderr)
		}
		keys := filepath.Join(home, "keys", "dev-keys.pem")
		good, err := os.ReadFile(keys)
		if err != nil {
			t.Fatal(err)
		}
		ca, _ := os.ReadFile(filepath.Join(home, "keys", "dev-ca.pem"))
		for name, content := range map[string][]byte{"empty": nil, "truncated": good[:len(good)/2], "zeroes": make([]byte, len(good))} {
			os.WriteFile(keys, content, 0o600)
			ingestFixtures(t, home, 2)
			r := conserva(t, "--archive", home, "seal")
			if r.code == 0 || !strings.Contains(r.stderr, keys) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("%s dev-keys.pem: exit %d, stderr %q; want an error naming the file", name, r.code, r.stderr)
			}
			if got, _ := os.ReadFile(keys); !bytes.Equal(got, content) {
				t.Errorf("%s dev-keys.pem was replaced", name)
			}
			if got, _ := os.ReadFile(filepath.Join(home, "keys", "dev-ca.pem")); !bytes.Equal(got, ca) {
				t.Errorf("%s dev-keys.pem: dev-ca.pem changed (a new CA)", name)
			}
		}
		// Restored, the keys seal again; a dev-ca.pem lost between the two
		// writes of the first use is made again from the keys.
		os.WriteFile(keys, good, 0o600)
		os.Remove(filepath.Join(home, "keys", "dev-ca.pem"))
		if r := conserva(t, "--archive", home, "seal"); r.code != 0 {
			t.Fatalf("seal with the keys restored: %d %s", r.code, r.stderr)
		}
		if got, _ := os.ReadFile(filepath.Join(home, "keys", "dev-ca.pem")); !bytes.Equal(got, ca) {
			t.Errorf("dev-ca.pem not remade from the keys")
		}
	})
}
