package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/conserva/conserva/ingest"
)

func walkDir(t *testing.T, spec string, all bool) (taken []string, skipped map[string]string) {
	t.Helper()
	skipped = map[string]string{}
	src, err := ingest.OpenWith(spec, ingest.Options{AllFiles: all, Skipped: func(p, why string) { skipped[p] = why }})
	if err != nil {
		t.Fatal(err)
	}
	err = src.Walk(context.Background(), func(it ingest.Item) error {
		if it.Err != nil {
			t.Errorf("%s: %v", it.Source, it.Err)
		}
		taken = append(taken, strings.TrimPrefix(it.Source, spec+"/"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(taken)
	return taken, skipped
}

// TestDirTakesMessagesAndFollowsSymlinks: a directory gives its messages,
// follows symlinks once, and names everything it leaves out.
func TestDirTakesMessagesAndFollowsSymlinks(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "linked.eml"), []byte("Received: from x\r\nFrom: a@b\r\n\r\nbody\r\n"), 0o644)
	root := t.TempDir()
	dir := filepath.Join(root, "export")
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	w := func(name, content string) { os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644) }
	w("a.eml", "Return-Path: <a@b>\r\nX-Weird line\r\nSubject: x\r\n\r\nbody\r\n")
	w("sub/b.eml", "Message-ID: <"+strings.Repeat("a", 100000)+"@x>\r\n\r\nb\r\n") // header longer than what is sniffed
	w("box.mbox", "From a@b Mon Nov 23 10:00:00 2026\nSubject: one\n\nbody\n")
	w("README.md", "# Export\n\nTitle: not mail\n")
	w("key.pem", "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n")
	w("cert.p12", "\x30\x82\x0a\x00\x02\x01\x03\x30")
	w("notes.txt", "Title: minutes\nAuthor: me\n\ntext\n")
	w("empty.eml", "")
	w(".hidden.eml", "From: a@b\r\n\r\nx\r\n")
	os.Symlink(filepath.Join(outside, "linked.eml"), filepath.Join(dir, "linked.eml"))
	os.Symlink(filepath.Join(dir, "sub"), filepath.Join(dir, "sub2")) // the same directory again
	os.Symlink(dir, filepath.Join(dir, "sub", "loop"))                // a loop
	os.Symlink(filepath.Join(root, "gone"), filepath.Join(dir, "broken.eml"))

	taken, skipped := walkDir(t, dir, false)
	want := []string{"a.eml", "box.mbox#1", "linked.eml", "sub/b.eml"}
	if strings.Join(taken, " ") != strings.Join(want, " ") {
		t.Errorf("taken %v, want %v", taken, want)
	}
	for name, why := range map[string]string{
		"README.md": "not a message", "key.pem": "not a message", "cert.p12": "binary", "notes.txt": "no mail header",
		"empty.eml": "empty", ".hidden.eml": "hidden", "sub2": "already read", "sub/loop": "already read", "broken.eml": "broken symlink",
	} {
		if got := skipped[filepath.Join(dir, name)]; !strings.Contains(got, why) {
			t.Errorf("%s: skipped %q, want a reason with %q", name, got, why)
		}
	}
	if len(skipped) != 9 {
		t.Errorf("skipped %v", skipped)
	}

	taken, _ = walkDir(t, dir, true)
	if len(taken) != 9 {
		t.Errorf("--all-files took %v, want the 9 regular files that are not hidden", taken)
	}

	// A symlink to the directory, given as the source, is followed.
	link := filepath.Join(root, "link")
	os.Symlink(dir, link)
	taken, _ = walkDir(t, link, false)
	if len(taken) != 4 {
		t.Errorf("through a symlink: %v", taken)
	}
}

func TestLooksLikeMessage(t *testing.T) {
	for in, want := range map[string]bool{
		"From: a@b\r\n\r\nx":                         true,
		"Received: from x\n\tby y\nSubject: s\n\n":   true,
		"X-Trasporto: posta-certificata\r\n":         true,
		"Message-ID: <" + strings.Repeat("a", 70000): true,
		"":                  false,
		"# Title\n":         false,
		"key: value\n\n":    false,
		" From: a@b\n":      false,
		"{\"from\": 1}\n":   false,
		"\x00\x01From: a\n": false,
	} {
		head := []byte(in)
		if len(head) > 16<<10 {
			head = head[:16<<10]
		}
		if got, why := ingest.LooksLikeMessage(head); got != want {
			t.Errorf("LooksLikeMessage(%.30q) = %v (%s), want %v", in, got, why, want)
		}
	}
}
