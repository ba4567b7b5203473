package pec_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/pec"
)

// unchangedFile holds, for every real provider message of ../shared and
// every committed FuzzParse seed, the SHA-256 of everything package pec
// says about it (outcome below), as the parser gave it before it was made
// faster: a digest, so that no part of the reference corpus is copied
// here. CONSERVA_UPDATE_UNCHANGED=1 rewrites it (only when a change of
// output is intended).
const unchangedFile = "testdata/unchanged.tsv"

// outcome is all that an ingest takes from package pec for one message:
// every field of the parsed message, the verification, the decoded
// original and the attachments, each with its error text.
func outcome(raw []byte, trust *pec.TrustStore, lim pec.Limits) string {
	m := pec.ParseHashed(raw, sha256.Sum256(raw), lim)
	v := m.Verify(trust)
	if v.TimeSource == pec.TimeFromNow {
		// Judged at the moment of the test: the time is not part of it.
		v.SignedAt = nil
		if i := strings.Index(v.Reason, " valid at "); i >= 0 {
			v.Reason = v.Reason[:i]
		}
	}
	orig, origErr := m.Postacert()
	atts, attErr := m.Attachments()
	errText := func(err error) string {
		if err == nil {
			return ""
		}
		return err.Error()
	}
	sum := sha256.Sum256(orig)
	b, err := json.Marshal(struct {
		Message     *pec.Message
		Verify      pec.Verification
		Canon       bool
		Chain       []string
		Postacert   string
		PostaErr    string
		Attachments []pec.Attachment
		AttErr      string
	}{m, v, v.Canonicalized, v.Chain, hex.EncodeToString(sum[:]) + fmt.Sprint(len(orig)), errText(origErr), atts, errText(attErr)})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestOutputUnchanged: the real corpus and the fuzz seeds give, field by
// field and byte for byte, what the parser gave before its fast paths (the
// digests of unchangedFile), with and without a certificate cache.
func TestOutputUnchanged(t *testing.T) {
	dir := testutil.Shared(t, "corpus", "pec")
	trust, err := pec.LoadTrustFile(filepath.Join(dir, "trust-agid.pem"))
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string][]byte{}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		if ext := filepath.Ext(f); ext == ".tsv" || ext == ".md" || ext == ".pem" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs["corpus/"+filepath.Base(f)] = b
	}
	seeds, _ := filepath.Glob("testdata/fuzz/FuzzParse/*")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		inputs["seed/"+filepath.Base(filepath.Dir(s))+"/"+filepath.Base(s)] = b
	}
	cached := pec.DefaultLimits()
	cached.Certs = pec.NewCertCache()
	got := map[string]string{}
	for name, raw := range inputs {
		plain := outcome(raw, trust, pec.DefaultLimits())
		if c := outcome(raw, trust, cached); c != plain {
			t.Errorf("%s: with a certificate cache:\n%s\nwithout:\n%s", name, c, plain)
		}
		sum := sha256.Sum256([]byte(plain))
		got[name] = hex.EncodeToString(sum[:])
	}
	if os.Getenv("CONSERVA_UPDATE_UNCHANGED") == "1" {
		var b bytes.Buffer
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for k := range got {
				if !yield(k) {
					return
				}
			}
		}) {
			fmt.Fprintf(&b, "%s\t%s\n", name, got[name])
		}
		if err := os.WriteFile(unchangedFile, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	data, err := os.ReadFile(unchangedFile)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		name, sum, _ := strings.Cut(line, "\t")
		want[name] = sum
	}
	for name, sum := range got {
		if w, ok := want[name]; !ok {
			t.Errorf("%s: no digest in %s (CONSERVA_UPDATE_UNCHANGED=1 adds it)", name, unchangedFile)
		} else if w != sum {
			t.Errorf("%s: output differs from before: %s", name, outcome(inputs[name], trust, pec.DefaultLimits()))
		}
	}
	if len(want) != len(got) {
		t.Errorf("%d digests in %s, %d inputs", len(want), unchangedFile, len(got))
	}
}
