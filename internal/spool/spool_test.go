package spool_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/conserva/conserva/internal/spool"
)

// TestSpool: the bytes come back as written, hashed; nothing is left in the
// directory, even while the spool is open; past the limit is ErrTooLarge.
func TestSpool(t *testing.T) {
	dir := t.TempDir()
	data := []byte(strings.Repeat("evidence ", 10000))
	sp, err := spool.Write(dir, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("the spool left %d names in its directory", len(ents))
	}
	sum := sha256.Sum256(data)
	if sp.SHA256 != hex.EncodeToString(sum[:]) || sp.Size != int64(len(data)) {
		t.Errorf("hash %s size %d", sp.SHA256, sp.Size)
	}
	for range 2 { // each Reader reads from the start
		got, _ := io.ReadAll(sp.Reader())
		if !bytes.Equal(got, data) {
			t.Fatal("the spooled bytes differ")
		}
	}
	b := make([]byte, 8)
	if n, _ := sp.ReadAt(b, 9); n != 8 || string(b) != "evidence" {
		t.Errorf("ReadAt: %q", b[:n])
	}
	sp.Close()
	if _, err := spool.Write(dir, bytes.NewReader(data), int64(len(data))-1); !errors.Is(err, spool.ErrTooLarge) {
		t.Errorf("one byte over the limit: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("a refused spool left %d names", len(ents))
	}
}

// TestUnlinked: the scratch file is made in a directory created for it,
// holds what is written, and has no name there while it is open.
func TestUnlinked(t *testing.T) {
	dir := t.TempDir() + "/new/spool"
	f, err := spool.Unlinked(dir, "scratch-*")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
		t.Fatalf("directory %v: %d names left", err, len(left))
	}
	if _, err := f.WriteString("evidence"); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 8)
	if _, err := f.ReadAt(b, 0); err != nil || string(b) != "evidence" {
		t.Fatalf("read back %q: %v", b, err)
	}
}
