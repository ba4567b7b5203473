package accesslog

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func appendN(t *testing.T, path string, n int) {
	t.Helper()
	for i := range n {
		if _, err := Append(path, Record{User: "anna", Role: "legal", Action: "search", Target: fmt.Sprintf("q=<script>%d</script>", i), Addr: "127.0.0.1", Result: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestChainWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	appendN(t, path, 3)
	rep, err := Verify(path)
	if err != nil || !rep.OK() || rep.Records != 3 || rep.Head == "" {
		t.Fatalf("%+v %v", rep, err)
	}
	var seqs []int64
	Read(path, func(r Record) error { seqs = append(seqs, r.Seq); return nil })
	if fmt.Sprint(seqs) != "[1 2 3]" {
		t.Fatalf("seqs %v", seqs)
	}
}

// Changing any one byte of the log (other than a line end) breaks it.
func TestEveryChangedByteIsFound(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	appendN(t, path, 3)
	orig, _ := os.ReadFile(path)
	for i := range orig {
		if orig[i] == '\n' {
			continue
		}
		for _, b := range []byte{orig[i] ^ 0x01, orig[i] ^ 0x20} {
			data := append([]byte(nil), orig...)
			data[i] = b
			os.WriteFile(path, data, 0o600)
			rep, err := Verify(path)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Fatalf("byte %d changed from %q to %q: the chain still verifies", i, orig[i], b)
			}
		}
	}
}

func TestRemovedRecordIsFound(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	appendN(t, path, 3)
	var lines [][]byte
	data, _ := os.ReadFile(path)
	start := 0
	for i, c := range data {
		if c == '\n' {
			lines = append(lines, data[start:i+1])
			start = i + 1
		}
	}
	os.WriteFile(path, append(append([]byte(nil), lines[0]...), lines[2]...), 0o600)
	if rep, _ := Verify(path); rep.OK() {
		t.Fatal("a removed record went unnoticed")
	}
	// Nothing is chained onto a damaged log.
	os.WriteFile(path, append(append([]byte(nil), lines[0]...), []byte("{garbage\n")...), 0o600)
	if _, err := Append(path, Record{User: "x", Action: "search", Result: "ok"}); err == nil {
		t.Fatal("appended after a damaged record")
	}
}

func TestConcurrentAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if _, err := Append(path, Record{User: fmt.Sprint("u", g), Action: "view", Result: "ok"}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	rep, err := Verify(path)
	if err != nil || !rep.OK() || rep.Records != 80 {
		t.Fatalf("%+v %v", rep, err)
	}
}
