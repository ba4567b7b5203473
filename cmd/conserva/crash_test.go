package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A panic that reaches the CLI boundary is one line on stderr and exit 2;
// the stack goes to the file that line names.
func TestPanicIsOneLine(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	var stderr bytes.Buffer
	code := func() (code int) {
		defer func() {
			if r := recover(); r != nil {
				code = crashed(r, &stderr)
			}
		}()
		var m map[string]int
		m["x"] = 1 // a bug: assignment to a nil map
		return 0
	}()
	line := stderr.String()
	if code != exitUsage || strings.Count(line, "\n") != 1 || !strings.Contains(line, "internal error: assignment to entry in nil map") {
		t.Fatalf("exit %d, stderr %q", code, line)
	}
	logs, _ := filepath.Glob(filepath.Join(os.Getenv("TMPDIR"), "conserva-crash-*.log"))
	if len(logs) != 1 || !strings.Contains(line, logs[0]) {
		t.Fatalf("stack file %v not named in %q", logs, line)
	}
	if data, _ := os.ReadFile(logs[0]); !strings.Contains(string(data), "TestPanicIsOneLine") {
		t.Fatalf("no stack in %s: %s", logs[0], data)
	}
}
