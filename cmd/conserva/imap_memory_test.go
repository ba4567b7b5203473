package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/internal/testutil"
)

// TestIMAPLargeMessagesBoundedMemory: a mailbox of large PEC is read over
// IMAP in bounded memory, as the same messages are from files: each
// message is read off the connection as it comes, and what waits to be
// verified and stored is spooled to disk past a small budget. Fetching
// whole batches held every message of a batch at once (307 MB of peak RSS
// for 8 messages of 30 MB; a mailbox of large messages, or a hostile
// server, could exhaust memory). Every message must still be archived,
// byte for byte, and valid.
func TestIMAPLargeMessagesBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("delivers 6 messages of 27 MB")
	}
	const bound = 96 << 10 // KB of peak RSS, for 6 × 27 MB
	d := testutil.StartDovecot(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	gen := filepath.Join(dir, "pecgen")
	if out, err := exec.Command("go", "build", "-o", gen, "../../internal/pecgen/cmd/pecgen").CombinedOutput(); err != nil {
		t.Fatalf("building pecgen: %v\n%s", err, out)
	}
	const n = 6
	if out, err := exec.Command(gen, "-out", src, "-n", strconv.Itoa(n), "-attachment", strconv.Itoa(20<<20)).CombinedOutput(); err != nil {
		t.Fatalf("pecgen: %v\n%s", err, out)
	}
	want := map[string]bool{}
	for i := range n {
		p := filepath.Join(src, fmt.Sprintf("msg-%06d.eml", i))
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		d.Deliver(fmt.Sprintf("%d.%d.large", time.Now().Unix(), i), raw)
		want[fileSHA256(t, p)] = true
	}
	home := filepath.Join(dir, "archive")
	t.Setenv("CONSERVA_IMAP_PASSWORD", d.Password)
	out, kb := peakRSS(t, "--archive", home, "ingest", "--json", "--trust", filepath.Join(src, "trust.pem"), "imap://"+d.User+"@"+d.Addr+"/INBOX")
	t.Logf("ingest over IMAP of %d × 27 MB: peak RSS %d MB", n, kb>>10)
	var sum struct{ Seen, Archived, Flagged, Errors int }
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &sum); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if sum.Seen != n || sum.Archived != n || sum.Flagged != 0 || sum.Errors != 0 {
		t.Fatalf("ingest over IMAP: %+v\n%s", sum, out)
	}
	if kb > bound {
		t.Errorf("ingest over IMAP of %d messages of 27 MB: peak RSS %d MB, over %d MB", n, kb>>10, bound>>10)
	}
	for _, row := range decodeLines(t, conserva(t, "--archive", home, "search", "--json").stdout) {
		if !want[row["id"].(string)] || row["signature"] != "valid" {
			t.Errorf("%s: not one of the delivered messages, or not valid (%v)", row["id"], row["reason"])
		}
	}
	if left, _ := os.ReadDir(filepath.Join(home, "spool")); len(left) != 0 {
		t.Errorf("spool files left behind: %d", len(left))
	}
}
