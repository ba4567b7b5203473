package ers_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/ers"
)

// FuzzParse: any input is refused with an error or parses to a record that
// re-encodes to the same bytes; verifying it never panics. Seeds in
// testdata/fuzz/FuzzParse are real records (one leaf, three leaves,
// renewed twice, renewed to SHA-512).
func FuzzParse(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Add([]byte{0x30, 0x80, 0x00, 0x00})
	roots := x509.NewCertPool()
	f.Fuzz(func(t *testing.T, b []byte) {
		er, err := ers.Parse(b)
		if err != nil {
			if er != nil {
				t.Fatal("a record and an error")
			}
			return
		}
		again, err := er.Marshal()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encoded differently: %v", err)
		}
		data := ers.Digests{crypto.SHA256: make([]byte, 32), crypto.SHA512: make([]byte, 64)}
		if _, err := ers.Verify(context.Background(), b, data, roots, time.Now()); err == nil {
			t.Fatal("verified against an empty root pool")
		}
	})
}

func TestParseRefusesGarbage(t *testing.T) {
	dev, _, _ := devTSA(t)
	_, hashes := objects(3)
	records, err := ers.Create(ctx, dev, crypto.SHA256, hashes)
	if err != nil {
		t.Fatal(err)
	}
	good := records[0]
	if _, err := ers.Parse(good); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":            {},
		"trailing byte":    append(bytes.Clone(good), 0),
		"truncated":        good[:len(good)-1],
		"version 2":        bytes.Replace(bytes.Clone(good), []byte{0x02, 0x01, 0x01}, []byte{0x02, 0x01, 0x02}, 1),
		"indefinite":       append([]byte{0x30, 0x80}, append(bytes.Clone(good[4:]), 0, 0)...),
		"too large":        make([]byte, ers.MaxRecordSize+1),
		"not a SEQUENCE":   append([]byte{0x31}, good[1:]...),
		"no chains":        {0x30, 0x12, 0x02, 0x01, 0x01, 0x30, 0x0d, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x30, 0x00},
		"non-minimal size": append([]byte{0x30, 0x83, 0x00}, good[2:]...),
	}
	for name, b := range cases {
		if _, err := ers.Parse(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
		if _, err := ers.VerifyData(ctx, b, []byte("x"), x509.NewCertPool(), time.Now()); !errors.Is(err, ers.ErrInvalid) {
			t.Errorf("%s: verify said %v", name, err)
		}
	}
	// An error names the problem, not a panic trace.
	_, err = ers.Parse(good[:10])
	if err == nil || !strings.Contains(err.Error(), "malformed evidence record") {
		t.Fatalf("truncated: %v", err)
	}
}
