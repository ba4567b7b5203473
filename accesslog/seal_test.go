package accesslog

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cutAll seals the log at path in one segment and returns it as sealed.
func cutAll(t *testing.T, path string, from Mark) (Segment, Sealed) {
	t.Helper()
	seg, data, err := Cut(path, from)
	if err != nil || seg.Last == 0 {
		t.Fatalf("cut: %+v %v", seg, err)
	}
	return seg, Sealed{Key: "packages/p/accesslog/" + seg.Name(), Name: seg.Name(), Data: data}
}

func TestCutTakesWholeRecordsOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	appendN(t, path, 3)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"seq":4,"ti`) // an append under way
	f.Close()
	seg, s := cutAll(t, path, Mark{})
	if seg.First != 1 || seg.Last != 3 || bytes.Contains(s.Data, []byte(`"seq":4`)) {
		t.Fatalf("cut %+v %s", seg, s.Data)
	}
	if got, err := ReadSegment(path, seg); err != nil || !bytes.Equal(got, s.Data) {
		t.Fatalf("read back: %v", err)
	}
	if n, _ := Unsealed(path, seg.End()); n != 0 {
		t.Fatalf("unsealed after the cut: %d", n)
	}
	if _, err := ParseSegmentName(seg.Name()); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"0-1-" + seg.SHA256 + ".jsonl", "3-1-" + seg.SHA256 + ".jsonl", "1-3-abc.jsonl", "../1-3-" + seg.SHA256 + ".jsonl"} {
		if _, err := ParseSegmentName(bad); err == nil {
			t.Errorf("%s accepted as a segment name", bad)
		}
	}
}

// A mark that no longer falls at the end of a record: the sealed part
// changed length, and nothing more is cut from it.
func TestCutRefusesAMovedMark(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	appendN(t, path, 3)
	seg, _ := cutAll(t, path, Mark{})
	appendN(t, path, 1)
	if _, _, err := Cut(path, Mark{Line: seg.Last, Offset: seg.Length - 1}); err == nil {
		t.Fatal("cut from inside a record")
	}
	if _, _, err := Cut(path, Mark{Line: 9, Offset: seg.Length * 10}); err == nil || !strings.Contains(err.Error(), "cut off") {
		t.Fatalf("cut past the end: %v", err)
	}
}

// Every byte of a sealed record changed, in place, is named.
func TestEverySealedByteIsCompared(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	appendN(t, path, 2)
	_, s1 := cutAll(t, path, Mark{})
	appendN(t, path, 2)
	seg1, _ := ParseSegmentName(s1.Name)
	seg1.Length = int64(len(s1.Data))
	_, s2 := cutAll(t, path, seg1.End())
	sealed := []Sealed{s2, s1}
	if probs, mark, err := CheckSealed(path, sealed); err != nil || len(probs) != 0 || mark.Line != 4 {
		t.Fatalf("whole: %v %+v %v", probs, mark, err)
	}
	orig, _ := os.ReadFile(path)
	for i := range orig {
		data := append([]byte(nil), orig...)
		data[i] ^= 0x01
		os.WriteFile(path, data, 0o600)
		probs, _, err := CheckSealed(path, sealed)
		if err != nil || len(probs) == 0 {
			t.Fatalf("byte %d changed: %v %v", i, probs, err)
		}
	}
	os.WriteFile(path, orig, 0o600)
	// A missing first segment is a gap; the same one twice is sealed twice.
	if probs, _, _ := CheckSealed(path, []Sealed{s2}); len(probs) != 1 || !strings.Contains(probs[0].Problem, "records 1 to 2 are in no sealed segment") {
		t.Fatalf("gap: %v", probs)
	}
	if probs, _, _ := CheckSealed(path, []Sealed{s1, s1, s2}); len(probs) != 1 || !strings.Contains(probs[0].Problem, "sealed twice") {
		t.Fatalf("overlap: %v", probs)
	}
	// A segment whose bytes are not its name's.
	alt := s1
	alt.Data = bytes.Replace(alt.Data, []byte("anna"), []byte("anne"), 1)
	if probs, _, _ := CheckSealed(path, []Sealed{alt, s2}); len(probs) < 1 || !strings.Contains(probs[0].Problem, "altered") {
		t.Fatalf("altered: %v", probs)
	}
	// Records removed from the live log shift the rest: named, bounded.
	os.WriteFile(path, orig[bytes.IndexByte(orig, '\n')+1:], 0o600)
	probs, _, _ := CheckSealed(path, sealed)
	if len(probs) == 0 || probs[0].Line != 1 {
		t.Fatalf("removed: %v", probs)
	}
}
