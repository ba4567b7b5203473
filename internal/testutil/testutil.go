// Package testutil holds what the tests of several packages share: where
// the shared reference material is, and how a missing tool is handled.
package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RequireEnv is set by scripts/test.sh: under it a test that needs an
// external tool (openssl, xmllint, …) fails when the tool is missing
// instead of skipping.
const RequireEnv = "CONSERVA_TEST_REQUIRE_TOOLS"

// Tool returns the path of an external program. When it is missing the test
// fails under scripts/test.sh and is skipped (with a message) otherwise.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("%s is required by this test and was not found: %v", name, err)
	}
	t.Skipf("%s not found (scripts/test.sh installs it): %v", name, err)
	return ""
}

// RepoRoot is the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// Shared returns a path inside ../shared (the reference material beside the
// repo), skipping the test with a message when that folder is absent.
func Shared(t testing.TB, elem ...string) string {
	t.Helper()
	base := filepath.Join(filepath.Dir(RepoRoot(t)), "shared")
	if _, err := os.Stat(base); err != nil {
		t.Skipf("../shared is absent (%v): the reference corpus tests cannot run", err)
	}
	return filepath.Join(append([]string{base}, elem...)...)
}

// S3Endpoint is the MinIO that scripts/test.sh starts
// (CONSERVA_TEST_S3_ENDPOINT, credentials in AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY). Under the script a missing MinIO fails the test;
// plain go test skips it.
func S3Endpoint(t testing.TB) string {
	t.Helper()
	ep := os.Getenv("CONSERVA_TEST_S3_ENDPOINT")
	if ep == "" {
		if os.Getenv(RequireEnv) != "" {
			t.Fatal("CONSERVA_TEST_S3_ENDPOINT is not set: scripts/test.sh should have started MinIO")
		}
		t.Skip("no MinIO (CONSERVA_TEST_S3_ENDPOINT unset; scripts/test.sh starts one)")
	}
	return ep
}
