package sip_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/sip"
)

func files(prefix string, n int) []sip.File {
	out := make([]sip.File, n)
	for i := range out {
		sum := sha256.Sum256([]byte(fmt.Sprint(prefix, i)))
		id := fmt.Sprintf("%x", sum)
		out[i] = sip.File{ID: prefix + id, Path: "packages/p/" + prefix + "/" + id + ".xml", SHA256: id, Format: "application/xml", Extension: "xml", Size: int64(100 + i)}
	}
	return out
}

func spooled(t *testing.T, fs []sip.File) sip.FileList {
	t.Helper()
	s, err := sip.NewFileSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, f := range fs {
		if err := s.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	return s.List()
}

// The index written from spooled lists is the index written from lists in
// memory, byte for byte, whichever groups it has (a package of the access
// log alone has no messages).
func TestWriteListsIsXML(t *testing.T) {
	for _, c := range []struct{ msgs, meta, log int }{{500, 1001, 0}, {0, 0, 2}, {3, 0, 1}, {0, 0, 0}} {
		ix := &sip.Index{ID: "20261201T000000Z-0123abcd", Created: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), AppVersion: "v1",
			Messages: files("m", c.msgs), Metadata: files("meta-", c.meta), AccessLog: files("log", c.log),
			SignerName: "Firma & <Co>", TSAName: "TSA", Warnings: []string{"DEVELOPMENT"}, TimestampPath: "index.xml.p7s.tsr"}
		want, err := ix.XML()
		if err != nil {
			t.Fatal(err)
		}
		var bytesSum int64
		for _, f := range ix.Messages {
			bytesSum += f.Size
		}
		var got bytes.Buffer
		stream := *ix
		stream.Messages, stream.Metadata, stream.AccessLog = nil, nil, nil
		lists := sip.Lists{Messages: spooled(t, ix.Messages), MessageBytes: bytesSum, Metadata: spooled(t, ix.Metadata), AccessLog: spooled(t, ix.AccessLog)}
		if err := stream.WriteLists(&got, lists); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("%+v: the streamed index differs from the one built in memory (%d and %d bytes)", c, got.Len(), len(want))
		}
		if !strings.Contains(string(want), fmt.Sprintf("<c:Messages>%d</c:Messages>", c.msgs)) {
			t.Errorf("no message count in %.600s", want)
		}
	}
}

// A list that gives fewer or more files than it says fails the index,
// whose counts would otherwise lie.
func TestWriteListsRefusesAListShortOfItsCount(t *testing.T) {
	ms := files("m", 3)
	for _, n := range []int{2, 4} {
		l := sip.Files(ms)
		l.Len = n
		ix := &sip.Index{ID: "x"}
		err := ix.WriteLists(&bytes.Buffer{}, sip.Lists{Messages: l})
		if err == nil || !strings.Contains(err.Error(), "lists 3 files, "+fmt.Sprint(n)+" were said") {
			t.Errorf("Len %d of 3: %v", n, err)
		}
	}
}
