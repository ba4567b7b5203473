package archive

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The sink keeps every problem not about one message, at most max about
// messages, each once, and says how many it did not keep.
func TestProblemSinkCapsMessageProblems(t *testing.T) {
	s := newProblemSink(3)
	for i := range 10 {
		id := fmt.Sprintf("%064x", i)
		s.bad(id, "messages/"+id[:2]+"/"+id+".eml", "missing from the store")
		s.bad(id, "messages/"+id[:2]+"/"+id+".eml", "missing from the store") // a duplicate
	}
	s.bad("", "messages/zz/not-a-message", "an object the archive never writes")
	s.bad("", "packages/p/index.xml.p7s", "signature does not match content")
	s.bad("", "catalog.db", "damaged")
	kept, omitted := s.sorted()
	if len(kept) != 5 || omitted != 8 {
		t.Fatalf("kept %d, omitted %d, want 5 and 8: %v", len(kept), omitted, kept)
	}
	keys := []string{}
	for _, p := range kept {
		keys = append(keys, p.Key)
	}
	if !sort.StringsAreSorted(keys) || !slices.Contains(keys, "packages/p/index.xml.p7s") || !slices.Contains(keys, "catalog.db") {
		t.Fatalf("kept %v", keys)
	}
	if n := s.note(); !strings.Contains(n, "8 more problems") {
		t.Fatalf("note %q", n)
	}
}

// eachIndexFile gives what indexFiles (a tree) gives, nested and odd
// Files included, and nothing for an index that does not parse.
func TestEachIndexFileMatchesTree(t *testing.T) {
	for _, doc := range []string{
		`<PIndex><FileGroup><ID>messages</ID><File><Path>messages/ab/x.eml</Path><Hash>aa</Hash></File>` +
			`<File><Path> meta/x.xml </Path><Hash function="sha256">bb<b>ignored</b>cc</Hash></File>` +
			`<File><Path>no-hash</Path></File><File><Hash>no-path</Hash></File>` +
			`<File><Path>first</Path><Path>second</Path><Hash>h1</Hash><Hash>h2</Hash><File><Path>nested</Path><Hash>n</Hash></File></File>` +
			`</FileGroup><x:File xmlns:x="urn:x"><x:Path>ns</x:Path><x:Hash>nh</x:Hash></x:File></PIndex>`,
		`<PIndex><File><Path>a</Path><Hash>b</Hash></File>`, // cut short
		`not xml`,
	} {
		want, werr := indexFiles([]byte(doc))
		var got []indexFile
		gerr := eachIndexFile([]byte(doc), func(f indexFile) error { got = append(got, f); return nil })
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%.40q: tree error %v, stream error %v", doc, werr, gerr)
		}
		sortFiles := func(fs []indexFile) {
			sort.Slice(fs, func(i, j int) bool { return fs[i].Path+fs[i].SHA256 < fs[j].Path+fs[j].SHA256 })
		}
		sortFiles(want)
		sortFiles(got)
		if werr == nil && !reflect.DeepEqual(want, got) {
			t.Fatalf("%.40q:\ntree   %v\nstream %v", doc, want, got)
		}
		if werr != nil && len(got) != 0 {
			t.Fatalf("%.40q: %d files from an index that does not parse", doc, len(got))
		}
	}
}
