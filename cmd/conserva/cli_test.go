package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/internal/testutil"
)

// The CLI is tested as a user runs it: a built binary, its output and its
// exit status.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "conserva-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "conserva")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", errors.New(string(out))
	}
	return bin, nil
})

var fixtureSet = sync.OnceValues(func() (*pecgen.FixtureSet, error) {
	set, err := pecgen.NewFixtureSet()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "conserva-fixtures")
	if err != nil {
		return nil, err
	}
	return set, set.WriteFixtures(dir)
})

type result struct {
	stdout, stderr string
	code           int
}

func conserva(t *testing.T, args ...string) result {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatalf("building conserva: %v", err)
	}
	cmd := exec.Command(bin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	r := result{out.String(), errOut.String(), code}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic:") {
		t.Fatalf("stack trace on stderr:\n%s", r.stderr)
	}
	return r
}

func fixtures(t *testing.T) *pecgen.FixtureSet {
	t.Helper()
	set, err := fixtureSet()
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func decodeLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var row map[string]any
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("not one JSON object per line: %v\n%s", err, sc.Text())
		}
		rows = append(rows, row)
	}
	return rows
}

func TestVerifyJSONContract(t *testing.T) {
	set := fixtures(t)
	var files []string
	for _, f := range set.Fixtures {
		files = append(files, f.Path)
	}
	r := conserva(t, append([]string{"verify", "--json", "--trust", set.TrustPEM}, files...)...)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (some fixtures are not valid); stderr %s", r.code, r.stderr)
	}
	rows := decodeLines(t, r.stdout)
	if len(rows) != len(set.Fixtures) {
		t.Fatalf("%d lines for %d files", len(rows), len(set.Fixtures))
	}
	fields := []string{"file", "sha256", "kind", "receipt_type", "signature", "reason", "signer", "signed_at",
		"message_id", "ref_message_id", "identificativo", "sender", "recipients", "subject", "daticert", "warnings"}
	for i, row := range rows {
		f := set.Fixtures[i]
		for _, k := range fields {
			if _, ok := row[k]; !ok {
				t.Errorf("%s: field %q missing", f.Name, k)
			}
		}
		if row["file"] != f.Path || row["kind"] != string(f.Kind) || row["signature"] != string(f.Verdict) || row["receipt_type"] != f.ReceiptType {
			t.Errorf("%s: file %v kind %v signature %v receipt %v; want %s %s %q", f.Name, row["file"], row["kind"], row["signature"], row["receipt_type"], f.Kind, f.Verdict, f.ReceiptType)
		}
	}
}

func TestVerifyExitStatus(t *testing.T) {
	set := fixtures(t)
	ok := set.Get("posta-certificata").Path
	if r := conserva(t, "verify", "--trust", set.TrustPEM, ok, set.Get("accettazione").Path); r.code != 0 {
		t.Fatalf("all valid: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := conserva(t, "verify", "--trust", set.TrustPEM, ok, set.Get("tampered-body").Path); r.code != 1 || !strings.Contains(r.stdout, "altered") {
		t.Fatalf("one tampered: exit %d\n%s", r.code, r.stdout)
	}
	if r := conserva(t, "verify", ok); r.code != 1 || !strings.Contains(r.stdout, "untrusted") {
		t.Fatalf("no anchors: exit %d\n%s", r.code, r.stdout)
	}
	for name, args := range map[string][]string{
		"no file":      {"verify"},
		"missing file": {"verify", "--trust", set.TrustPEM, filepath.Join(t.TempDir(), "nope.eml")},
		"bad trust":    {"verify", "--trust", ok, ok},
		"unknown flag": {"verify", "--frobnicate", ok},
		"bad size":     {"verify", "--max-size", "lots", ok},
	} {
		r := conserva(t, args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, "conserva: ") && !strings.Contains(r.stderr, "conserva: ") {
			t.Errorf("%s: exit %d stderr %q, want 2 with a conserva: message", name, r.code, r.stderr)
		}
	}
}

func TestVerifyHumanOutput(t *testing.T) {
	set := fixtures(t)
	f := set.Get("avvenuta-consegna-breve")
	r := conserva(t, "verify", "--trust", set.TrustPEM, f.Path)
	line := strings.SplitN(r.stdout, "\n", 2)[0]
	for _, want := range []string{f.Path, "avvenuta-consegna (breve)", "valid", "Posta Certificata Test", "signed 20"} {
		if !strings.Contains(line, want) {
			t.Errorf("human line %q lacks %q", line, want)
		}
	}
}

func TestVerifyRealCorpus(t *testing.T) {
	dir := testutil.Shared(t, "corpus", "pec")
	data, err := os.ReadFile(filepath.Join(dir, "EXPECTED.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{}
	var files []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n")[1:] {
		c := strings.Split(line, "\t")
		want[filepath.Join(dir, c[0])] = [2]string{c[1], c[2]}
		files = append(files, filepath.Join(dir, c[0]))
	}
	r := conserva(t, append([]string{"verify", "--json", "--trust", filepath.Join(dir, "trust-agid.pem")}, files...)...)
	if r.code != 1 {
		t.Fatalf("exit %d: the corpus holds invalid files", r.code)
	}
	for _, row := range decodeLines(t, r.stdout) {
		w := want[row["file"].(string)]
		if row["kind"] != w[0] || row["signature"] != w[1] {
			t.Errorf("%s: %v/%v, want %s/%s", row["file"], row["kind"], row["signature"], w[0], w[1])
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	r := conserva(t, "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "verify") || !strings.Contains(r.stdout, "classify PEC files") {
		t.Fatalf("help: exit %d\n%s", r.code, r.stdout)
	}
	r = conserva(t, "version", "--json")
	var v map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v["version"] == "" {
		t.Fatalf("version --json: %q %v", r.stdout, err)
	}
	if r := conserva(t, "frobnicate"); r.code != 2 {
		t.Fatalf("unknown command: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestBundledSamples guards the README's first command: the samples it
// verifies give the verdicts the README describes.
func TestBundledSamples(t *testing.T) {
	root := testutil.RepoRoot(t)
	files, _ := filepath.Glob(filepath.Join(root, "testdata", "samples", "*.eml"))
	if len(files) != 6 {
		t.Fatalf("%d samples, want 6", len(files))
	}
	r := conserva(t, append([]string{"verify", "--json", "--trust", filepath.Join(root, "testdata", "samples", "trust.pem")}, files...)...)
	count := map[string]int{}
	for _, row := range decodeLines(t, r.stdout) {
		count[row["signature"].(string)]++
	}
	if r.code != 1 || count["valid"] != 4 || count["invalid"] != 1 || count["absent"] != 1 {
		t.Fatalf("exit %d, verdicts %v", r.code, count)
	}
}
