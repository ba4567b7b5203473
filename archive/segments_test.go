package archive_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/segment"
)

// problemsOf joins an audit's problems, one per line, key first.
func problemsOf(rep archive.AuditReport) string {
	var b strings.Builder
	for _, p := range rep.Problems {
		b.WriteString(p.Key + ": " + p.Problem + "\n")
	}
	return b.String()
}

// appendMember rewrites a segment file with one more member, as a forger
// with write access to the store would.
func appendMember(t *testing.T, segPath, name string, data []byte) {
	t.Helper()
	old, err := os.ReadFile(segPath)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := segment.NewWriter(&buf, time.Now())
	err = segment.Each(bytes.NewReader(old), func(m segment.Member, r io.Reader) error {
		b, err := io.ReadAll(r)
		if err == nil {
			_, err = w.Add(m.Name, b)
		}
		return err
	})
	if err == nil {
		_, err = w.Add(name, data)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	overwrite(t, segPath, buf.Bytes())
}

// TestAuditNamesDamageInsideSegments: a byte changed in a message's
// metadata inside metadata.tar, a member slipped into it, and a records
// segment cut short or holding a name twice are each named by audit; the
// intact archive has no problem.
func TestAuditNamesDamageInsideSegments(t *testing.T) {
	a, p := sealedWithERS(t, 3)
	if rep := auditNow(t, a); len(rep.Problems) != 0 {
		t.Fatalf("intact: %s", problemsOf(rep))
	}
	var ids []string
	a.Catalog.Scan(func(r *archive.Record) error { ids = append(ids, r.ID); return nil })
	dir := packageDir(a, p.ID)
	meta := filepath.Join(dir, "metadata.tar")
	good, _ := os.ReadFile(meta)

	// One byte of one message's metadata.
	testutil.EditMember(t, meta, "meta/"+ids[0]+".xml", func(b []byte) []byte {
		b[len(b)/2] ^= 1
		return b
	})
	probs := problemsOf(auditNow(t, a))
	if !strings.Contains(probs, "meta/"+ids[0]+".xml: damaged") || !strings.Contains(probs, "metadata.tar: damaged") {
		t.Fatalf("changed metadata inside the segment:\n%s", probs)
	}
	overwrite(t, meta, good)

	// A member the index does not list.
	appendMember(t, meta, "meta/"+strings.Repeat("0", 64)+".xml", []byte("<DocumentoInformatico/>"))
	probs = problemsOf(auditNow(t, a))
	if !strings.Contains(probs, "metadata.tar: damaged") || !strings.Contains(probs, "metadata.tar.ers") {
		t.Fatalf("a member slipped into the segment:\n%s", probs)
	}
	overwrite(t, meta, good)
	if rep := auditNow(t, a); len(rep.Problems) != 0 {
		t.Fatalf("restored: %s", problemsOf(rep))
	}

	// The records: cut short, then a name twice.
	recs := filepath.Join(dir, "ers", "records.tar")
	goodRecs, _ := os.ReadFile(recs)
	overwrite(t, recs, goodRecs[:len(goodRecs)-2048])
	probs = problemsOf(auditNow(t, a))
	if !strings.Contains(probs, "cut short") && !strings.Contains(probs, "unexpected EOF") {
		t.Fatalf("records segment cut short:\n%s", probs)
	}
	overwrite(t, recs, goodRecs)
	first := testutil.ReadMember(t, recs, ids[1]+".ers")
	appendMember(t, recs, ids[1]+".ers.tmp", first) // a legal new name...
	raw, _ := os.ReadFile(recs)
	// ...renamed in its header to the name already there (checksum fixed).
	i := bytes.LastIndex(raw, []byte(ids[1]+".ers.tmp"))
	copy(raw[i:], append([]byte(ids[1]+".ers"), 0, 0, 0, 0))
	fixChecksum(raw[i-i%512 : i-i%512+512])
	overwrite(t, recs, raw)
	probs = problemsOf(auditNow(t, a))
	if !strings.Contains(probs, "appears twice") {
		t.Fatalf("a record named twice in its segment:\n%s", probs)
	}
	overwrite(t, recs, goodRecs)
	if rep := auditNow(t, a); len(rep.Problems) != 0 {
		t.Fatalf("restored: %s", problemsOf(rep))
	}
}

// fixChecksum recomputes a ustar header's checksum after an edit.
func fixChecksum(h []byte) {
	copy(h[148:156], "        ")
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	copy(h[148:156], fmt.Sprintf("%06o\x00 ", sum))
}
