package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestHugeHeaderLineBoundedMemory: one message whose header is a single
// 64 MB line is archived and flagged, sealed and exported, each command's
// peak RSS far below what holding and parsing it would cost (before the
// header limits: about 7 times the message for ingest). The bound is
// generous; scripts/rss-header.sh measures the 190 MB case.
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
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "archive")
	for _, args := range [][]string{
		{"ingest", src},
		{"seal"},
		{"export", "--out", filepath.Join(dir, "x.zip"), id},
	} {
		cmd := exec.Command(bin, append([]string{"--archive", home}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", args[0], err, out)
		}
		ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		if !ok {
			t.Skip("no rusage on this system")
		}
		t.Logf("%s: peak RSS %d MB", args[0], ru.Maxrss>>10)
		if ru.Maxrss > bound {
			t.Errorf("%s of a %d MB header line: peak RSS %d MB, over %d MB", args[0], mb, ru.Maxrss>>10, bound>>10)
		}
		if args[0] == "ingest" && !strings.Contains(string(out), "header block exceeds") {
			t.Errorf("ingest does not say why the message is flagged:\n%s", out)
		}
	}
}
