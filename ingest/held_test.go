package ingest

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSmallFilesReadOnceByTheWalk: a directory's or a Maildir's small
// message comes with its bytes, read whole by the walk (the ingest does not
// open it again); a larger one, or one that grew after its size was taken,
// is read to its end when opened.
func TestSmallFilesReadOnceByTheWalk(t *testing.T) {
	msg := func(n int) []byte {
		return append([]byte("From: a@b\r\nSubject: x\r\n\r\n"), bytes.Repeat([]byte("y"), n)...)
	}
	root := t.TempDir()
	small, large := msg(7000), msg(holdMax+1)
	os.WriteFile(filepath.Join(root, "small.eml"), small, 0o644)
	os.WriteFile(filepath.Join(root, "large.eml"), large, 0o644)
	md := filepath.Join(root, "md")
	for _, d := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(md, d), 0o755)
	}
	os.WriteFile(filepath.Join(md, "new", "1.x"), small, 0o644)
	want := map[string][]byte{"small.eml": small, "large.eml": large, "md/new/1.x": small}
	wantHeld := map[string]bool{"small.eml": true, "md/new/1.x": true}
	err := Dir{Path: root}.Walk(context.Background(), func(it Item) error {
		name := strings.TrimPrefix(it.Source, root+"/")
		b, held := it.Held()
		if held != wantHeld[name] {
			t.Errorf("%s: held %v, want %v", name, held, wantHeld[name])
		}
		if held && (!bytes.Equal(b, want[name]) || it.Size != int64(len(b))) {
			t.Errorf("%s: held %d bytes (size %d), want the file's %d", name, len(b), it.Size, len(want[name]))
		}
		r, err := it.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(r)
		r.Close()
		if !bytes.Equal(got, want[name]) {
			t.Errorf("%s: opened %d bytes, want %d", name, len(got), len(want[name]))
		}
		delete(want, name)
		return nil
	})
	if err != nil || len(want) != 0 {
		t.Fatalf("walk: %v; not given: %v", err, want)
	}
}

// TestReadStartFileThatGrew: a file longer than its stat said is not taken
// as whole; the sniff still sees as much as it reads of any file.
func TestReadStartFileThatGrew(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.eml")
	data := bytes.Repeat([]byte("a"), 3*sniffLen)
	os.WriteFile(p, data, 0o644)
	head, whole, err := readStart(p, 100)
	if err != nil || whole || len(head) != sniffLen {
		t.Fatalf("grown file: %d bytes, whole %v, %v; want %d bytes, not whole", len(head), whole, err, sniffLen)
	}
	head, whole, err = readStart(p, int64(len(data)))
	if err != nil || !whole || !bytes.Equal(head, data) {
		t.Fatalf("same size: %d bytes, whole %v, %v; want the whole file", len(head), whole, err)
	}
	if _, _, err := readStart(filepath.Join(t.TempDir(), "gone"), 10); !os.IsNotExist(err) {
		t.Fatalf("missing file: %v", err)
	}
}
