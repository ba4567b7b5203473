package testutil

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// bcJars are Bouncy Castle's jars as Debian's libbcpkix-java (and its
// dependencies libbcprov-java, libbcutil-java) install them: the second,
// independent implementation of CAdES and RFC 4998 the tests check against.
var bcJars = []string{"/usr/share/java/bcprov.jar", "/usr/share/java/bcpkix.jar", "/usr/share/java/bcutil.jar"}

var javaBuilds sync.Map // source hash -> class directory

// Java compiles the Java program in src (one public class named after the
// file) against Bouncy Castle and runs it with args. It returns what the
// program printed on stdout and stderr together, and its exit error. When
// java, javac or the jars are missing the test fails under scripts/test.sh
// and is skipped otherwise.
func Java(t testing.TB, src string, args ...string) (string, error) {
	t.Helper()
	java, javac := Tool(t, "java"), Tool(t, "javac")
	var cp []string
	for _, j := range bcJars {
		if _, err := os.Stat(j); err != nil {
			if os.Getenv(RequireEnv) != "" {
				t.Fatalf("Bouncy Castle jar %s is required (Debian libbcpkix-java): %v", j, err)
			}
			t.Skipf("Bouncy Castle jar %s missing (scripts/test.sh installs libbcpkix-java)", j)
		}
		cp = append(cp, j)
	}
	code, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(code)
	key := hex.EncodeToString(sum[:])
	dir, ok := javaBuilds.Load(key)
	if !ok {
		// Compiled once per test process, in a directory that outlives the
		// test that first asked for it.
		d, err := os.MkdirTemp("", "conserva-java-")
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(javac, "-nowarn", "-cp", strings.Join(cp, ":"), "-d", d, src).CombinedOutput()
		if err != nil {
			t.Fatalf("javac %s: %v\n%s", src, err, out)
		}
		dir, _ = javaBuilds.LoadOrStore(key, d)
	}
	class := strings.TrimSuffix(filepath.Base(src), ".java")
	cmd := exec.Command(java, append([]string{"-cp", strings.Join(append([]string{dir.(string)}, cp...), ":"), class}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}
