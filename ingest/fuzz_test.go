package ingest_test

import (
	"context"
	"io"
	"os"
	"testing"

	"github.com/conserva/conserva/ingest"
)

// FuzzMbox splits arbitrary mbox files: no panic, and the messages found
// never hold more bytes than the file.
func FuzzMbox(f *testing.F) {
	f.Add([]byte("From a\nSubject: x\n\nbody\n>From y\n\nFrom b\r\nS: y\r\n\r\n"))
	f.Add([]byte("From \n\n\nFrom \nFrom x\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		fh, err := os.CreateTemp(dir, "box")
		if err != nil {
			t.Fatal(err)
		}
		fh.Close()
		p := fh.Name()
		defer os.Remove(p)
		if err := os.WriteFile(p, append([]byte("From fuzz\n"), data...), 0o644); err != nil {
			t.Fatal(err)
		}
		total := 0
		err = ingest.Mbox{Path: p}.Walk(context.Background(), func(it ingest.Item) error {
			r, err := it.Open()
			if err != nil {
				return err
			}
			defer r.Close()
			b, err := io.ReadAll(r)
			total += len(b)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if total > len(data) {
			t.Fatalf("%d message bytes from a %d-byte mbox", total, len(data)+10)
		}
	})
}

// FuzzLooksLikeMessage: any first bytes of a file get an answer, and a
// "no" always comes with its reason.
func FuzzLooksLikeMessage(f *testing.F) {
	f.Add([]byte("From: a@b\r\n\r\nx"))
	f.Add([]byte("Received: x\n\ty\nX: \xff\n"))
	f.Add([]byte(" \n:\n\x00"))
	f.Fuzz(func(t *testing.T, head []byte) {
		if ok, why := ingest.LooksLikeMessage(head); !ok && why == "" {
			t.Fatal("refused without a reason")
		}
	})
}
