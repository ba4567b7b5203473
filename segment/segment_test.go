package segment_test

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/segment"
)

func build(t *testing.T, files map[string][]byte, order []string) ([]byte, []segment.Member) {
	t.Helper()
	var buf bytes.Buffer
	w := segment.NewWriter(&buf, time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC))
	var ms []segment.Member
	for _, n := range order {
		m, err := w.Add(n, files[n])
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), ms
}

func sample(n int) (map[string][]byte, []string) {
	files := map[string][]byte{}
	var order []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("meta/%064x.xml", i*7919)
		files[name] = bytes.Repeat([]byte{byte('a' + i%26)}, i*37%1500)
		order = append(order, name)
	}
	return files, order
}

// Every member is found where the writer said, from a file (ReaderAt), a
// plain stream and a seeker, and the same files make the same bytes.
func TestRoundTrip(t *testing.T) {
	files, order := sample(300)
	data, written := build(t, files, order)
	again, _ := build(t, files, order)
	if !bytes.Equal(data, again) {
		t.Fatal("the same files made different segments")
	}
	p := filepath.Join(t.TempDir(), "s.tar")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ix, err := segment.ReadIndex(f)
	if err != nil {
		t.Fatal(err)
	}
	if ix.Len() != len(order) {
		t.Fatalf("%d members, want %d", ix.Len(), len(order))
	}
	for _, w := range written {
		m, ok := ix.Lookup(w.Name)
		if !ok || m != w {
			t.Fatalf("%s: indexed %+v, written %+v", w.Name, m, w)
		}
		for _, src := range []io.Reader{f, bytes.NewReader(data), struct{ io.Reader }{bytes.NewReader(data)}} {
			r, err := segment.Open(src, m)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, files[w.Name]) {
				t.Fatalf("%s: read %d bytes (%v), want %d", w.Name, len(got), err, len(files[w.Name]))
			}
		}
	}
	if _, ok := ix.Lookup("meta/absent.xml"); ok {
		t.Fatal("found a member that is not there")
	}
	// A plain stream indexes the same.
	ix2, err := segment.ReadIndex(struct{ io.Reader }{bytes.NewReader(data)})
	if err != nil || fmt.Sprint(ix2.Members()) != fmt.Sprint(ix.Members()) {
		t.Fatalf("stream index differs: %v", err)
	}
	var seen []string
	err = segment.Each(bytes.NewReader(data), func(m segment.Member, r io.Reader) error {
		b, err := io.ReadAll(r)
		if err == nil && !bytes.Equal(b, files[m.Name]) {
			err = fmt.Errorf("%s: wrong bytes", m.Name)
		}
		seen = append(seen, m.Name)
		return err
	})
	if err != nil || strings.Join(seen, ",") != strings.Join(order, ",") {
		t.Fatalf("Each: %v, order %v", err, len(seen))
	}
}

// tar itself gives the files back: what an auditor does.
func TestTarExtracts(t *testing.T) {
	tarTool := testutil.Tool(t, "tar")
	files, order := sample(20)
	files["ers/index.xml.p7s.tsr.2.ers"] = []byte("record")
	order = append(order, "ers/index.xml.p7s.tsr.2.ers")
	data, _ := build(t, files, order)
	dir := t.TempDir()
	cmd := exec.Command(tarTool, "-xf", "-", "-C", dir)
	cmd.Stdin = bytes.NewReader(data)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	for _, n := range order {
		got, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil || !bytes.Equal(got, files[n]) {
			t.Fatalf("%s: %v", n, err)
		}
	}
}

// What Writer never makes is refused when read back: links, folders, bad
// names, twice the same name, a truncated or garbled archive.
func TestRefusesForeignSegments(t *testing.T) {
	mk := func(hdrs ...*tar.Header) []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, h := range hdrs {
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			if h.Typeflag == tar.TypeReg {
				tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
			}
		}
		tw.Close()
		return buf.Bytes()
	}
	reg := func(name string) *tar.Header {
		return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: 3, Mode: 0o444}
	}
	good, _ := build(t, map[string][]byte{"a": []byte("1"), "b": []byte("2")}, []string{"a", "b"})
	cases := map[string][]byte{
		"symlink":   mk(reg("a"), &tar.Header{Typeflag: tar.TypeSymlink, Name: "b", Linkname: "/etc/passwd"}),
		"hard link": mk(reg("a"), &tar.Header{Typeflag: tar.TypeLink, Name: "b", Linkname: "a"}),
		"folder":    mk(&tar.Header{Typeflag: tar.TypeDir, Name: "meta/", Mode: 0o755}),
		"dot-dot":   mk(reg("../x")),
		"absolute":  mk(reg("/etc/x")),
		"twice":     mk(reg("meta/a.xml"), reg("meta/a.xml")),
		"truncated": good[:700],
		"garbled":   append(bytes.Repeat([]byte{0x41}, 512), good...),
	}
	for name, data := range cases {
		if _, err := segment.ReadIndex(bytes.NewReader(data)); err == nil {
			t.Errorf("%s: accepted", name)
		}
		// Find, which keeps no index, refuses them too.
		sought := "a"
		if name == "twice" {
			sought = "meta/a.xml"
		}
		if m, err := segment.Find(bytes.NewReader(data), sought); err == nil {
			t.Errorf("%s: Find found %+v", name, m)
		}
	}
	if _, err := segment.ReadIndex(bytes.NewReader(good)); err != nil {
		t.Fatalf("good: %v", err)
	}
}

func TestWriterRefusesBadNames(t *testing.T) {
	w := segment.NewWriter(io.Discard, time.Now())
	for _, n := range []string{"", "/a", "../a", "a/../../b", "a//b", strings.Repeat("x", 300)} {
		if _, err := w.Add(n, nil); err == nil {
			t.Errorf("%q accepted", n)
		}
	}
	if _, err := w.Add("a", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Add("a", nil); err == nil {
		t.Fatal("a name added twice")
	}
}

func FuzzReadIndex(f *testing.F) {
	good, _ := build(&testing.T{}, map[string][]byte{"meta/a.xml": []byte("<a/>"), "ers/b.ers": []byte("x")}, []string{"meta/a.xml", "ers/b.ers"})
	f.Add(good)
	f.Add(good[:600])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		ix, err := segment.ReadIndex(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, m := range ix.Members() {
			if m.Offset < 0 || m.Offset+m.Size > int64(len(data)) {
				t.Fatalf("%+v outside %d bytes", m, len(data))
			}
		}
	})
}
