package catalog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/internal/catalogfmt"
	"github.com/conserva/conserva/pec"
)

// putRecord is the i-th record of the tests below: the fields every index
// reads, with what is awkward in them (blanks, case, brackets, NUL,
// values repeated across fields, HTML and line separators in JSON, a
// value too long for an index key).
func putRecord(i int) *Record {
	sum := sha256.Sum256([]byte(fmt.Sprint("put ", i)))
	id := hex.EncodeToString(sum[:])
	d := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
	r := &Record{ID: id, Key: "messages/" + id[:2] + "/" + id + ".eml", Size: int64(100 + i),
		Kind: pec.KindPostaCertificata, Signature: pec.Valid, Date: &d, IngestedAt: d.Add(time.Minute),
		MessageID: fmt.Sprintf(" <m%d@pec.example> ", i), RefMessageID: fmt.Sprintf("<d%d@client.example>", i/4), Msgid: fmt.Sprintf("d%d@client.example", i/4),
		Identificativo: fmt.Sprintf("opec.%d", i/4), From: fmt.Sprintf(" Mittente%d@PEC.example", i%7),
		To: []string{"a@pec.example", fmt.Sprintf("b%d@pec.example", i%3), "A@pec.example"}, Subject: fmt.Sprintf("Decreto n. %d <atto> & allegato \u2028 decreto", i),
		Sources: []string{fmt.Sprintf("imaps://u@host/INBOX;UIDVALIDITY=1;UID=%d", i)}}
	switch i % 5 {
	case 1:
		r.Kind, r.Consegna, r.Ricezione = pec.KindAvvenutaConsegna, "b1@pec.example", []string{"c@pec.example", "a@pec.example"}
	case 2:
		r.Flagged, r.Signature, r.Date, r.Sources = true, pec.Invalid, nil, nil
	case 3:
		r.Package, r.MessageID, r.Subject = "pkg-1", "", ""
		r.Msgid = "a\x00b@client.example"
	case 4:
		r.Identificativo = strings.Repeat("lungo", 200)
		r.Damage = "missing from the store"
	}
	return r
}

// The index keys and counts of a record are those of format 2 as it was
// written before stateOf was made to allocate less.
func TestStateOfAsBefore(t *testing.T) {
	for i := range 200 {
		r := putRecord(i)
		got, want := stateOf(r, uint64(i+1)), stateOfBefore(r, uint64(i+1))
		if len(got.keys) != len(want.keys) {
			t.Fatalf("record %d: %d keys, before %d", i, len(got.keys), len(want.keys))
		}
		for j := range want.keys {
			if !bytes.Equal(got.keys[j].bucket, want.keys[j].bucket) || got.keys[j].key != want.keys[j].key {
				t.Fatalf("record %d key %d: %s %q, before %s %q", i, j, got.keys[j].bucket, got.keys[j].key, want.keys[j].bucket, want.keys[j].key)
			}
		}
		if !reflect.DeepEqual(got.tallies, want.tallies) || !reflect.DeepEqual(got.t, want.t) {
			t.Fatalf("record %d: counts %v %+v, before %v %+v", i, got.tallies, got.t, want.tallies, want.t)
		}
	}
}

// A record's value holds the very JSON json.Marshal gives (what the
// reader of format 2 inflates), compressed against the same dictionary.
func TestEncodeRecordIsMarshal(t *testing.T) {
	for i := range 50 {
		r := putRecord(i)
		v, err := encodeRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		js, err := catalogfmt.Unpack(v)
		if err != nil {
			t.Fatal(err)
		}
		c := *r
		c.ID, c.Key = "", ""
		want, _ := json.Marshal(&c)
		if !bytes.Equal(js, want) {
			t.Fatalf("record %d:\n%s\nwant\n%s", i, js, want)
		}
		back, err := decodeRecord([]byte(r.ID), v)
		if err != nil || !reflect.DeepEqual(back, r) {
			t.Fatalf("record %d read back: %v\n%+v\n%+v", i, err, back, r)
		}
	}
}

// Inserting what a run may send twice (a record twice in one chunk, again
// in a later chunk from another source, a chunk refused half-way by a bad
// record and then inserted one by one as ingest does) leaves one record
// each, with its sources merged, its index keys and counts whole: the
// index check finds nothing.
func TestInsertTwiceStaysConsistent(t *testing.T) {
	c, err := Open(filepath.Join(t.TempDir(), "catalog.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	again := func(i int, source string) *Record {
		r := putRecord(i)
		r.Sources = []string{source}
		return r
	}
	var first []*Record
	for i := range 40 {
		first = append(first, putRecord(i))
	}
	first = append(first, again(3, "b.eml"), putRecord(5)) // twice in the chunk
	added, err := c.Insert(first)
	if err != nil {
		t.Fatal(err)
	}
	if !added[39] || added[40] || added[41] {
		t.Fatalf("added %v", added)
	}
	bad := putRecord(99)
	bad.ID = "not-a-sha256"
	chunk := []*Record{putRecord(40), again(6, "c.eml"), bad, putRecord(41)}
	if _, err := c.Insert(chunk); err == nil {
		t.Fatal("a chunk with a bad id was inserted")
	}
	if n, _ := c.Count(); n != 40 {
		t.Fatalf("%d records after the refused chunk, want 40", n)
	}
	for _, r := range chunk { // ingest's insertEach
		_, err := c.Insert([]*Record{r})
		if (err != nil) != (r == bad) {
			t.Fatalf("%s: %v", r.ID, err)
		}
	}
	if n, _ := c.Count(); n != 42 {
		t.Fatalf("%d records, want 42", n)
	}
	for i, want := range map[int][]string{3: {putRecord(3).Sources[0], "b.eml"}, 6: {putRecord(6).Sources[0], "c.eml"}, 5: putRecord(5).Sources} {
		r, err := c.Get(putRecord(i).ID)
		if err != nil || r == nil || !reflect.DeepEqual(r.Sources, want) {
			t.Fatalf("record %d: %v %v, want sources %v", i, r, err, want)
		}
	}
	if probs := c.CheckIndexes(); len(probs) > 0 {
		t.Fatalf("index check: %v", probs)
	}
	total := 0
	err = c.Tallies(func(mailbox, month, sender string, tl Tally) error {
		if sender != "" {
			total += tl.Messages
		}
		return nil
	})
	if err != nil || total != 42 {
		t.Fatalf("counts say %d messages (%v), want 42", total, err)
	}
}

// stateOfBefore is stateOf as it was before it was made to allocate
// less (kept to compare with): the index keys it gives are the format.
func stateOfBefore(r *Record, seq uint64) recordState {
	stamp := catalogfmt.Stamp(r.Date)
	var st recordState
	seen := map[string]bool{}
	add := func(bucket []byte, value string) {
		if value == "" && !bytes.Equal(bucket, bucketDate) && !bytes.Equal(bucket, bucketFlagged) && !bytes.Equal(bucket, bucketWait) {
			return
		}
		at := stamp
		if bytes.Equal(bucket, bucketWait) {
			at = 0 // in the order catalogued: a seal takes the oldest first
		}
		k := string(catalogfmt.IndexKey(ixValue(value), at, seq))
		if !seen[string(bucket)+k] {
			seen[string(bucket)+k] = true
			st.keys = append(st.keys, indexEntry{bucket, k})
		}
	}
	for _, id := range []string{r.MessageID, r.RefMessageID, r.Msgid} {
		add(bucketMsgID, NormalizeMessageID(id))
	}
	add(bucketIdent, NormalizeMessageID(r.Identificativo))
	for _, a := range append(append([]string{r.From, r.Consegna}, r.To...), r.Ricezione...) {
		add(bucketAddr, normAddr(a))
	}
	if r.Date != nil {
		add(bucketDate, "")
	}
	for _, w := range catalogfmt.Words(r.Subject) {
		add(bucketWord, w)
	}
	add(bucketKind, string(r.Kind))
	if r.Flagged {
		add(bucketFlagged, "")
	}
	if waiting(r) {
		add(bucketWait, "")
	}
	if len(r.Sources) > 0 && r.Sources[0] != "" {
		add(bucketMailbox, mailboxOf(r))
	}
	st.t = tallyOf(r)
	st.tallies = []string{"m" + mailboxOf(r) + "\x00" + r.Time().UTC().Format("2006-01"), "s" + senderOf(r)}
	return st
}
