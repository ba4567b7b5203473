package sip_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/sip"
)

// What Write lists, EachFile reads back, group by group, in order.
func TestEachFileReadsWhatWriteLists(t *testing.T) {
	var msgs, meta, logs []sip.File
	for i := 0; i < 50; i++ {
		id := fmt.Sprintf("%064x", i)
		msgs = append(msgs, sip.File{ID: id, Path: "messages/" + id[:2] + "/" + id + ".eml", SHA256: id, Format: "message/rfc822", Extension: "eml"})
		meta = append(meta, sip.File{ID: "meta-" + id, Path: "packages/p/meta/" + id + ".xml", SHA256: fmt.Sprintf("%064x", i+1000), Format: "application/xml", Extension: "xml"})
	}
	logs = append(logs, sip.File{ID: "log & <1>", Path: "packages/p/accesslog/1-2-x.jsonl", SHA256: "ab", Format: "application/jsonl", Extension: "jsonl"})
	ix := &sip.Index{ID: "p", Created: time.Now(), Messages: msgs, Metadata: meta, AccessLog: logs, Warnings: []string{"<File>"}}
	data, err := ix.XML()
	if err != nil {
		t.Fatal(err)
	}
	var got []sip.ListedFile
	if err := sip.EachFile(bytes.NewReader(data), func(f sip.ListedFile) error { got = append(got, f); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []sip.ListedFile{}
	for _, x := range []struct {
		g  string
		fs []sip.File
	}{{"messages", msgs}, {"metadata", meta}, {"accesslog", logs}} {
		for _, f := range x.fs {
			want = append(want, sip.ListedFile{Group: x.g, ID: f.ID, Path: f.Path, SHA256: f.SHA256})
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read back %d files, want %d\n%v", len(got), len(want), got[:3])
	}
	// A forged index with a huge field is refused, not held.
	huge := strings.Replace(string(data), "<sincro:Path>", "<sincro:Path>"+strings.Repeat("x", 1<<20), 1)
	if err := sip.EachFile(strings.NewReader(huge), func(sip.ListedFile) error { return nil }); err == nil {
		t.Fatal("a 1 MB Path accepted")
	}
	if err := sip.EachFile(strings.NewReader(string(data[:len(data)/2])), func(sip.ListedFile) error { return nil }); err == nil {
		t.Fatal("a cut index accepted")
	}
}

func FuzzEachFile(f *testing.F) {
	ix := &sip.Index{ID: "p", Messages: []sip.File{{ID: "a", Path: "messages/a.eml", SHA256: "00"}}}
	data, _ := ix.XML()
	f.Add(data)
	f.Add([]byte("<FileGroup><File><ID>x</ID></File></FileGroup>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = sip.EachFile(bytes.NewReader(data), func(sip.ListedFile) error { return nil })
	})
}
