package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/internal/testutil"
)

// TestHugeHeaderLineBoundedMemory: one message whose header is a single
// 64 MB line is archived and flagged, sealed and exported, each command's
// peak RSS far below what holding and parsing it would cost (before the
// header limits: about 7 times the message for ingest). The bound is
// generous; scripts/rss.sh measures the 190 MB case.
func TestHugeHeaderLineBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 64 MB message")
	}
	const mb = 64
	const bound = 150 << 10 // KB of peak RSS
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.Mkdir(src, 0o755)
	f, err := os.Create(filepath.Join(src, "huge.eml"))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	w := bufio.NewWriter(io.MultiWriter(f, h))
	w.WriteString("Message-ID: <")
	chunk := []byte(strings.Repeat("a", 1<<20))
	for range mb {
		w.Write(chunk)
	}
	w.WriteString("@x>\r\nFrom: a@pec.example\r\n\r\nbody\r\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	id := hex.EncodeToString(h.Sum(nil))
	home := filepath.Join(dir, "archive")
	for _, args := range [][]string{
		{"ingest", src},
		{"seal"},
		{"export", "--out", filepath.Join(dir, "x.zip"), id},
	} {
		out, kb := peakRSS(t, append([]string{"--archive", home}, args...)...)
		t.Logf("%s: peak RSS %d MB", args[0], kb>>10)
		if kb > bound {
			t.Errorf("%s of a %d MB header line: peak RSS %d MB, over %d MB", args[0], mb, kb>>10, bound>>10)
		}
		if args[0] == "ingest" && !strings.Contains(out, "header block exceeds") {
			t.Errorf("ingest does not say why the message is flagged:\n%s", out)
		}
	}
}

// peakRSS runs conserva under /usr/bin/time and returns its output and peak
// RSS in KB. Measured by a separate process on purpose: a child started by
// the test process inherits the test process's own high-water mark (Linux
// keeps it across vfork and exec), which would hide the command's.
func peakRSS(t *testing.T, args ...string) (string, int64) {
	t.Helper()
	timer := testutil.Tool(t, "/usr/bin/time")
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	rss := filepath.Join(t.TempDir(), "rss")
	out, _ := exec.Command(timer, append([]string{"-f", "%M", "-o", rss, bin}, args...)...).CombinedOutput()
	b, err := os.ReadFile(rss)
	if err != nil {
		t.Fatalf("no peak RSS from /usr/bin/time: %v\n%s", err, out)
	}
	// The last line: time writes a "Command exited with non-zero status" line first.
	lines := strings.Fields(strings.TrimSpace(string(b)))
	kb, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	if err != nil {
		t.Fatalf("peak RSS %q: %v", b, err)
	}
	return string(out), kb
}

// TestLargeSignedMessageBoundedMemory: an ordinary signed PEC of 40 MB (a
// large attachment) is verified, ingested, sealed, exported, audited and
// reverified with each command's peak RSS well under the message's size: it
// is read from a file or a spool, never held (before: about three times the
// message, 592 MB for a 190 MB one; scripts/rss.sh measures that
// case). The verdicts must stay what reading it whole gives: valid, and
// invalid ("altered") for a copy with one byte of the attachment changed.
func TestLargeSignedMessageBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes two 40 MB messages")
	}
	const bound = 32 << 10 // KB of peak RSS, for 40 MB messages
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	// Made by pecgen in a process of its own: this one stays small.
	gen := filepath.Join(dir, "pecgen")
	if out, err := exec.Command("go", "build", "-o", gen, "../../internal/pecgen/cmd/pecgen").CombinedOutput(); err != nil {
		t.Fatalf("building pecgen: %v\n%s", err, out)
	}
	if out, err := exec.Command(gen, "-out", src, "-n", "1", "-attachment", strconv.Itoa(29<<20)).CombinedOutput(); err != nil {
		t.Fatalf("pecgen: %v\n%s", err, out)
	}
	trust := filepath.Join(dir, "trust.pem")
	if err := os.Rename(filepath.Join(src, "trust.pem"), trust); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(src, "msg-000000.eml")
	altered := filepath.Join(src, "altered.eml")
	if err := copyFile(good, altered); err != nil {
		t.Fatal(err)
	}
	// One base64 character of the attachment, in the middle, changed.
	f, err := os.OpenFile(altered, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	if st.Size() < 38<<20 {
		t.Fatalf("message of %d bytes, want about 40 MB", st.Size())
	}
	b := make([]byte, 1)
	for off := st.Size() / 2; ; off++ {
		f.ReadAt(b, off)
		if c := b[0]; c >= 'a' && c <= 'y' {
			b[0]++
			f.WriteAt(b, off)
			break
		}
	}
	f.Close()
	alteredID := fileSHA256(t, altered)

	home := filepath.Join(dir, "archive")
	run := func(args ...string) string {
		t.Helper()
		out, kb := peakRSS(t, args...)
		name := args[0]
		if name == "--archive" {
			name = args[2]
		}
		t.Logf("%s: peak RSS %d MB", name, kb>>10)
		if kb > bound {
			t.Errorf("%s of 40 MB messages: peak RSS %d MB, over %d MB", strings.Join(args, " "), kb>>10, bound>>10)
		}
		return out
	}
	if out := run("verify", "--trust", trust, good); !strings.Contains(out, ", valid,") {
		t.Errorf("verify of the large message:\n%s", out)
	}
	out := run("--archive", home, "ingest", "--json", "--trust", trust, src)
	if !strings.Contains(out, `"archived":2`) || !strings.Contains(out, alteredID) || !strings.Contains(out, "altered") {
		t.Errorf("ingest should archive both and flag the altered one:\n%s", out)
	}
	run("--archive", home, "seal")
	zip := filepath.Join(dir, "x.zip")
	run("--archive", home, "export", "--out", zip, alteredID)
	if out := run("--archive", home, "audit"); strings.Contains(out, "FAILED") || !strings.Contains(out, "0 problems") {
		t.Errorf("audit:\n%s", out)
	}
	run("--archive", home, "reverify", "--trust", trust)
	unzip(t, zip, filepath.Join(dir, "pack"))
	rep, _ := os.ReadFile(filepath.Join(dir, "pack", "report.json"))
	// Both copies are in the dossier (one Message-ID): one valid, one altered.
	if !strings.Contains(string(rep), `"signature": "valid"`) || !strings.Contains(string(rep), `"signature": "invalid"`) || !strings.Contains(string(rep), "altered after signing") {
		t.Errorf("the evidence pack's report does not say the altered message is invalid:\n%.3000s", rep)
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

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
