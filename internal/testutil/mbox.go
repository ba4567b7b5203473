package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Mbox writes an mbox of n small plain messages (not PEC), each its own
// Message-ID and subject, and returns its path: many messages for the
// tests of memory and of the catalog, ingested fast.
func Mbox(t testing.TB, n int) string {
	t.Helper()
	var mbox strings.Builder
	for i := range n {
		fmt.Fprintf(&mbox, "From s@example.it Mon Nov 30 10:00:00 2026\nFrom: s@example.it\nTo: r@example.it\nSubject: pratica %d\nMessage-ID: <%d@example.it>\n\nmessage %d\n\n", i, i, i)
	}
	file := filepath.Join(t.TempDir(), "many.mbox")
	if err := os.WriteFile(file, []byte(mbox.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}
