package pec_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/pec"
)

// onlyReaderAt hides bytes.Reader's other methods: the parser must take the
// path it takes for a file.
type onlyReaderAt struct{ r *bytes.Reader }

func (o onlyReaderAt) ReadAt(p []byte, off int64) (int, error) { return o.r.ReadAt(p, off) }

// TestReaderAtMatchesParse: a message read from a file (ParseReaderAt, with a
// read buffer smaller than most lines so that long lines come in pieces)
// gives exactly what Parse gives on the same bytes in memory: fields,
// warnings, verdict and reason, the decoded original, its attachments.
// Inputs: every generated fixture (valid, tampered, truncated, bare LF,
// opaque, nested), the real provider corpus, the fuzz seeds, and a few
// hand-made edge cases around delimiters and line breaks.
func TestReaderAtMatchesParse(t *testing.T) {
	set := fixtureSet(t)
	trust := pec.NewTrustStore(set.CA.Cert)
	inputs := map[string][]byte{}
	for _, f := range set.Fixtures {
		inputs["fixture/"+f.Name] = f.Raw
	}
	seeds, _ := filepath.Glob("testdata/fuzz/FuzzParse/*")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			inputs["seed/"+filepath.Base(s)] = b
		}
	}
	// The real corpus when ../shared is there (TestRealCorpus says when not).
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(testutil.RepoRoot(t)), "shared", "corpus", "pec", "*"))
	for _, f := range files {
		if ext := filepath.Ext(f); ext == ".tsv" || ext == ".md" || ext == ".pem" {
			continue
		}
		if b, err := os.ReadFile(f); err == nil {
			inputs["corpus/"+filepath.Base(f)] = b
		}
	}
	mp := "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	inputs["edge/empty-parts"] = []byte(mp + "--b\r\n--b\r\n\r\n--b--\r\n")
	inputs["edge/lf-before-delim"] = []byte(mp + "--b\n\nx\n--b--\n")
	inputs["edge/cr-split"] = []byte(mp + "--b\r\n\r\n" + strings.Repeat("y", 15) + "\r\n--b--")
	inputs["edge/unclosed"] = []byte(mp + "--b\r\n\r\nabc")
	inputs["edge/long-delim-like"] = []byte(mp + "--b" + strings.Repeat("z", 40) + "\r\n--b--\r\n")
	inputs["edge/no-body"] = []byte("Subject: only a header\r\n")
	inputs["edge/lf-at-start"] = []byte("\nSubject: x\n")
	inputs["edge/line-over-join"] = []byte(mp + "--b\n\n" + strings.Repeat("w", 10000) + "\r\n--b" + strings.Repeat(" ", 5000) + "\n--b--\n")
	for name, raw := range inputs {
		t.Run(name, func(t *testing.T) {
			want := pec.Parse(raw, pec.DefaultLimits())
			got := pec.ParseReaderAtBuf(onlyReaderAt{bytes.NewReader(raw)}, int64(len(raw)), pec.DefaultLimits(), 16)
			wj, _ := json.Marshal(want)
			gj, _ := json.Marshal(got)
			if !bytes.Equal(wj, gj) {
				t.Fatalf("parsed differently from a file:\nmemory %s\nfile   %s", wj, gj)
			}
			wv, gv := want.Verify(trust), got.Verify(trust)
			if wv.Verdict != gv.Verdict || wv.Reason != gv.Reason || wv.Canonicalized != gv.Canonicalized {
				t.Fatalf("verified differently from a file: memory %s (%s), file %s (%s)", wv.Verdict, wv.Reason, gv.Verdict, gv.Reason)
			}
			wp, werr := want.Postacert()
			gp, gerr := got.Postacert()
			if !bytes.Equal(wp, gp) || (werr == nil) != (gerr == nil) {
				t.Fatalf("postacert.eml differs (%v / %v)", werr, gerr)
			}
			wa, _ := want.Attachments()
			ga, _ := got.Attachments()
			if a, b := mustJSON(wa), mustJSON(ga); a != b {
				t.Fatalf("attachments differ: %s / %s", a, b)
			}
		})
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
