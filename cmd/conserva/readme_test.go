package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conserva/conserva/internal/testutil"
)

// readmeBlock returns the sh code block that follows the marker
// "<!-- auditor: NAME -->" in README.md.
func readmeBlock(t *testing.T, name string) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i := strings.Index(s, "<!-- auditor: "+name+" -->")
	if i < 0 {
		t.Fatalf("README.md has no auditor block %q", name)
	}
	s = s[i:]
	start := strings.Index(s, "```sh\n")
	end := strings.Index(s[start+6:], "```")
	if start < 0 || end < 0 {
		t.Fatalf("README.md: auditor block %q is not a sh code block", name)
	}
	return s[start+6 : start+6+end]
}

// TestReadmeAuditorCommands runs the README's auditor commands literally,
// with sh -e: inside an unzipped pack, and on the archive's own packages.
func TestReadmeAuditorCommands(t *testing.T) {
	testutil.Tool(t, "xmllint")
	_, cfg, ref, root := sealedDossier(t)
	dir, r := exportPack(t, cfg, ref)
	if r.code != 0 {
		t.Fatalf("export: %s %s", r.stdout, r.stderr)
	}
	xsd := testutil.Shared(t, "schemas", "sincro", "SInCRO-2020-PIndex.xsd")
	sh := func(dir, block string, env ...string) string {
		t.Helper()
		cmd := exec.Command("sh", "-e", "-c", block)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("README commands failed: %v\n%s\n--- commands:\n%s", err, out, block)
		}
		return string(out)
	}
	out := sh(dir, readmeBlock(t, "pack"), "SIGNER_ROOT_SHA256="+root, "TSA_ROOT_SHA256="+root, "SINCRO_XSD="+xsd)
	for _, want := range []string{"ALL CHECKS PASSED, with the roots you gave", root, "Verification successful", "Verification: OK", "index.xml validates", "Time stamp"} {
		if !strings.Contains(out, want) {
			t.Errorf("the README's pack commands do not print %q:\n%s", want, out)
		}
	}
	out = sh(t.TempDir(), readmeBlock(t, "store"), "CONSERVA_ARCHIVE="+cfg[1])
	if !strings.Contains(out, "Verification successful") || !strings.Contains(out, "Verification: OK") || !strings.Contains(out, "\n1\n") {
		t.Errorf("the README's store commands:\n%s", out)
	}
}
