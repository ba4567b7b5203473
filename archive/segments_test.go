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
	ids := catalogIDs(a)
	dir := packageDir(a, p.ID)
	meta := filepath.Join(dir, "metadata.tar")
	good, _ := os.ReadFile(meta)

	// One byte of one message's metadata.
	restore := flipMetadata(t, a, p.ID, ids[0])
	probs := problemsOf(auditNow(t, a))
	if !strings.Contains(probs, "meta/"+ids[0]+".xml: damaged") || !strings.Contains(probs, "metadata.tar: damaged") {
		t.Fatalf("changed metadata inside the segment:\n%s", probs)
	}
	restore()

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
	restore = cutRecords(t, a, p.ID)
	probs = problemsOf(auditNow(t, a))
	if !strings.Contains(probs, "cut short") && !strings.Contains(probs, "unexpected EOF") {
		t.Fatalf("records segment cut short:\n%s", probs)
	}
	restore()
	restore = recordTwice(t, a, p.ID, ids[1])
	probs = problemsOf(auditNow(t, a))
	if !strings.Contains(probs, "appears twice") {
		t.Fatalf("a record named twice in its segment:\n%s", probs)
	}
	restore()
	if rep := auditNow(t, a); len(rep.Problems) != 0 {
		t.Fatalf("restored: %s", problemsOf(rep))
	}
}

// catalogIDs are the ids of the catalogued messages.
func catalogIDs(a *archive.Archive) []string {
	var ids []string
	a.Catalog.Scan(func(r *archive.Record) error { ids = append(ids, r.ID); return nil })
	return ids
}

// flipMetadata changes one byte of a message's metadata inside its
// package's metadata.tar; restore puts the segment back.
func flipMetadata(t *testing.T, a *archive.Archive, pkg, id string) (restore func()) {
	t.Helper()
	meta := filepath.Join(packageDir(a, pkg), "metadata.tar")
	good, _ := os.ReadFile(meta)
	testutil.EditMember(t, meta, "meta/"+id+".xml", func(b []byte) []byte {
		b[len(b)/2] ^= 1
		return b
	})
	return func() { overwrite(t, meta, good) }
}

// cutRecords cuts a package's records segment short (its last 2 KB).
func cutRecords(t *testing.T, a *archive.Archive, pkg string) (restore func()) {
	t.Helper()
	recs := filepath.Join(packageDir(a, pkg), "ers", "records.tar")
	good, _ := os.ReadFile(recs)
	overwrite(t, recs, good[:len(good)-2048])
	return func() { overwrite(t, recs, good) }
}

// recordTwice names a message's record twice in its records segment.
func recordTwice(t *testing.T, a *archive.Archive, pkg, id string) (restore func()) {
	t.Helper()
	recs := filepath.Join(packageDir(a, pkg), "ers", "records.tar")
	good, _ := os.ReadFile(recs)
	appendMember(t, recs, id+".ers.tmp", testutil.ReadMember(t, recs, id+".ers")) // a legal new name...
	raw, _ := os.ReadFile(recs)
	// ...renamed in its header to the name already there (checksum fixed).
	i := bytes.LastIndex(raw, []byte(id+".ers.tmp"))
	copy(raw[i:], append([]byte(id+".ers"), 0, 0, 0, 0))
	fixChecksum(raw[i-i%512 : i-i%512+512])
	overwrite(t, recs, raw)
	return func() { overwrite(t, recs, good) }
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
