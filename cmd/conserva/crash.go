package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"
)

// crashed reports a panic that reached the CLI boundary: one line on
// stderr, exit 2, and the stack in a file of the temporary directory
// ($TMPDIR/conserva-crash-<UTC time>-<pid>.log) for a bug report, since a
// person reading the terminal needs the what, not the where.
func crashed(r any, stderr io.Writer) int {
	name := filepath.Join(os.TempDir(), fmt.Sprintf("conserva-crash-%s-%d.log", time.Now().UTC().Format("20060102T150405Z"), os.Getpid()))
	report := fmt.Sprintf("conserva %s: panic: %v\n\n%s", version(), r, debug.Stack())
	where := "stack trace in " + name
	if err := os.WriteFile(name, []byte(report), 0o600); err != nil {
		where = "the stack trace could not be written: " + err.Error()
	}
	fmt.Fprintf(stderr, "conserva: internal error: %v (%s; please report it)\n", oneLine(fmt.Sprint(r)), where)
	return exitUsage
}

func oneLine(s string) string {
	for i, c := range s {
		if c == '\n' || c == '\r' {
			return s[:i]
		}
	}
	return s
}
