package ingest_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conserva/conserva/ingest"
)

func collect(t *testing.T, spec string) map[string]string {
	t.Helper()
	src, err := ingest.Open(spec)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	err = src.Walk(context.Background(), func(it ingest.Item) error {
		r, err := it.Open()
		if err != nil {
			out[it.Source] = "ERR " + err.Error()
			return nil
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		out[it.Source] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMbox(t *testing.T) {
	dir := t.TempDir()
	m1 := "Subject: one\n\nbody\n>From the start\n>>From quoted twice\n"
	m2 := "Subject: two\r\n\r\nline\r\n"
	m3 := "Subject: three\n\n" + strings.Repeat("x", 300000) + "\nFrom inside a paragraph is not a separator\n"
	mbox := "From a@b Mon Nov 23 10:00:00 2026\n" + m1 + "\n" +
		"From c@d Mon Nov 23 10:01:00 2026\r\n" + m2 + "\r\n" +
		"From e@f Mon Nov 23 10:02:00 2026\n" + m3
	p := filepath.Join(dir, "box.mbox")
	os.WriteFile(p, []byte(mbox), 0o644)
	got := collect(t, p)
	want := map[string]string{
		p + "#1": "Subject: one\n\nbody\nFrom the start\n>From quoted twice\n",
		p + "#2": m2,
		p + "#3": m3,
	}
	if len(got) != 3 {
		t.Fatalf("%d messages: %v", len(got), keys(got))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, abbreviate(got[k]), abbreviate(w))
		}
	}
}

func TestDirAndMaildir(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "pec-office", "INBOX")
	for _, sub := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(md, sub), 0o755)
	}
	os.WriteFile(filepath.Join(md, "cur", "1.host:2,S"), []byte("Subject: cur\n\n"), 0o644)
	os.WriteFile(filepath.Join(md, "new", "2.host"), []byte("Subject: new\n\n"), 0o644)
	os.WriteFile(filepath.Join(md, "tmp", "3.host"), []byte("Subject: partial"), 0o644)
	os.WriteFile(filepath.Join(dir, "a.eml"), []byte("Subject: a\n\n"), 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden.eml"), []byte("Subject: hidden\n\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "z.mbox"), []byte("From x\nSubject: m\n\nbody\n"), 0o644)
	got := collect(t, dir)
	if len(got) != 4 {
		t.Fatalf("found %v", keys(got))
	}
	for _, want := range []string{"Subject: cur\n\n", "Subject: new\n\n", "Subject: a\n\n", "Subject: m\n\nbody\n"} {
		found := false
		for _, v := range got {
			found = found || v == want
		}
		if !found {
			t.Errorf("%q not found in %v", want, keys(got))
		}
	}
	if only := collect(t, md); len(only) != 2 {
		t.Fatalf("Maildir alone: %v", keys(only))
	}
}

func keys(m map[string]string) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	return k
}

func abbreviate(s string) string {
	if len(s) > 80 {
		return s[:40] + "…" + s[len(s)-40:]
	}
	return s
}
