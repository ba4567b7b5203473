package segment_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/conserva/conserva/segment"
)

// TestFindAsIndexed: Find gives every member where the writer put it, from
// a seeker and from a plain stream; a name that is not there is
// ErrNotFound; a cut-off or garbled archive is refused even where the
// member sought is whole (the foreign segments: TestRefusesForeignSegments).
func TestFindAsIndexed(t *testing.T) {
	files, order := sample(300)
	data, written := build(t, files, order)
	for _, w := range written {
		for _, src := range []io.Reader{bytes.NewReader(data), struct{ io.Reader }{bytes.NewReader(data)}} {
			m, err := segment.Find(src, w.Name)
			if err != nil || m != w {
				t.Fatalf("%s: found %+v (%v), written %+v", w.Name, m, err, w)
			}
		}
	}
	if _, err := segment.Find(bytes.NewReader(data), "meta/absent.xml"); !errors.Is(err, segment.ErrNotFound) {
		t.Fatalf("a member that is not there: %v", err)
	}
	// The member sought is whole, but the archive is not.
	for name, data := range map[string][]byte{
		"truncated": data[:len(data)-1024],
		"garbled":   append(bytes.Repeat([]byte{0x41}, 512), data...),
	} {
		if m, err := segment.Find(bytes.NewReader(data), order[0]); err == nil {
			t.Errorf("%s: found %+v", name, m)
		}
	}
}
