package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/conserva/conserva/accesslog"
	"github.com/conserva/conserva/internal/testutil"
)

func appendAccess(t *testing.T, path string, n int) {
	t.Helper()
	for i := range n {
		if _, err := accesslog.Append(path, accesslog.Record{User: "avv.rossi", Role: "legal", Action: "search", Target: fmt.Sprint("q=decreto ", i), Addr: "127.0.0.1", Result: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
}

// segments lists the access log segments stored in the archive's packages.
func segments(t *testing.T, home string) []string {
	t.Helper()
	found, _ := filepath.Glob(filepath.Join(home, "store", "packages", "*", "accesslog", "*.jsonl"))
	// In the order of their records: two seals in the same second make
	// package ids that sort by their random part.
	first := func(p string) int64 {
		s, err := accesslog.ParseSegmentName(filepath.Base(p))
		if err != nil {
			t.Fatal(err)
		}
		return s.First
	}
	sort.Slice(found, func(i, j int) bool { return first(found[i]) < first(found[j]) })
	return found
}

// TestAccessLogSealed: a seal stores the unsealed records of the access
// log, byte for byte, in a package whose signed index lists them; verify
// and audit compare the live log with what was sealed and name a changed
// record, a cut-off log and an altered segment.
func TestAccessLogSealed(t *testing.T) {
	_, cfg, _, _ := sealedDossier(t)
	home := cfg[1]
	logPath := filepath.Join(home, accesslog.FileName)
	appendAccess(t, logPath, 5)

	r := conserva(t, append(cfg, "seal", "--json")...)
	if r.code != 0 {
		t.Fatalf("seal: %d %s %s", r.code, r.stdout, r.stderr)
	}
	row := decodeLines(t, r.stdout)[0]
	if row["messages"] != float64(0) || !strings.HasPrefix(fmt.Sprint(row["access_log"]), "1-5-") {
		t.Fatalf("a seal with only access log records: %s", r.stdout)
	}
	segs := segments(t, home)
	if len(segs) != 1 {
		t.Fatalf("segments %v", segs)
	}
	live, _ := os.ReadFile(logPath)
	sealed, _ := os.ReadFile(segs[0])
	if !bytes.Equal(live, sealed) {
		t.Fatalf("the segment is not the live log's bytes:\n%s\n%s", sealed, live)
	}
	// The signed index lists it with its hash: openssl checks the
	// signature and the timestamp, xmllint the index against SInCRO.
	pkg := filepath.Dir(filepath.Dir(segs[0]))
	index, _ := os.ReadFile(filepath.Join(pkg, "index.xml"))
	if !bytes.Contains(index, []byte("packages/"+filepath.Base(pkg)+"/accesslog/"+filepath.Base(segs[0]))) {
		t.Fatalf("the index does not list the segment:\n%s", index)
	}
	ca := filepath.Join(home, "keys", "dev-ca.pem")
	opensslOK(t, pkg, "cms", "-verify", "-binary", "-inform", "DER", "-in", "index.xml.p7s", "-content", "index.xml", "-CAfile", ca, "-purpose", "any", "-out", os.DevNull)
	opensslOK(t, pkg, "ts", "-verify", "-data", "index.xml.p7s", "-in", "index.xml.p7s.tsr", "-CAfile", ca)
	xsd := testutil.Shared(t, "schemas", "sincro", "SInCRO-2020-PIndex.xsd")
	if out, err := exec.Command(testutil.Tool(t, "xmllint"), "--noout", "--schema", xsd, filepath.Join(pkg, "index.xml")).CombinedOutput(); err != nil {
		t.Fatalf("xmllint: %v %s", err, out)
	}

	// Nothing new: nothing sealed; new records: the next segment.
	if r := conserva(t, append(cfg, "seal")...); r.code != 0 || !strings.Contains(r.stdout, "nothing to seal") {
		t.Fatalf("seal again: %d %s", r.code, r.stdout)
	}
	appendAccess(t, logPath, 3)
	if r := conserva(t, append(cfg, "accesslog", "verify")...); r.code != 0 || !strings.Contains(r.stdout, "5 records sealed in 1 segment, 3 records not sealed yet") {
		t.Fatalf("verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := conserva(t, append(cfg, "seal")...); r.code != 0 || len(segments(t, home)) != 2 {
		t.Fatalf("seal the rest: %d %s %v", r.code, r.stdout, segments(t, home))
	}
	if r := conserva(t, append(cfg, "audit")...); r.code != 0 {
		t.Fatalf("audit: %d %s", r.code, r.stdout)
	}
	good, _ := os.ReadFile(logPath)
	restore := func() { os.WriteFile(logPath, good, 0o600) }
	expect := func(what, verifySays, auditSays string) {
		t.Helper()
		r := conserva(t, append(cfg, "accesslog", "verify")...)
		if r.code != 1 || !strings.Contains(r.stdout, verifySays) {
			t.Errorf("%s: accesslog verify: %d %s %s", what, r.code, r.stdout, r.stderr)
		}
		r = conserva(t, append(cfg, "audit")...)
		if r.code != 1 || !strings.Contains(r.stdout, auditSays) {
			t.Errorf("%s: audit: %d %s", what, r.code, r.stdout)
		}
	}

	// One byte of a sealed record, its hash chain recomputed from there on
	// (what a forger would do): only the sealed copy tells.
	var lines [][]byte
	for _, l := range bytes.SplitAfter(good, []byte("\n")) {
		if len(l) > 0 {
			lines = append(lines, l)
		}
	}
	os.Remove(logPath)
	for i, l := range lines {
		var rec accesslog.Record
		if err := json.Unmarshal(l, &rec); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			rec.Target = strings.Replace(rec.Target, "decreto", "decretO", 1)
		}
		rec.Seq, rec.Prev, rec.Hash = 0, "", ""
		if _, err := accesslog.Append(logPath, rec); err != nil {
			t.Fatal(err)
		}
	}
	if rep, _ := accesslog.Verify(logPath); !rep.OK() {
		t.Fatalf("the forged chain should be whole: %+v", rep)
	}
	expect("a forged record with its chain rebuilt", "record 2: record 2 differs from the copy sealed in packages/", "accesslog.jsonl:2: record 2 differs")
	restore()

	// One byte changed in place.
	data := append([]byte(nil), good...)
	data[bytes.Index(data, []byte("decreto 3"))+8] = '9'
	os.WriteFile(logPath, data, 0o600)
	expect("one byte changed", "record 4: record 4 differs", "accesslog.jsonl:4")
	restore()

	// Cut off after record 6: records 7 and 8 were sealed.
	os.WriteFile(logPath, good[:bytes.Index(good, []byte(`{"seq":7,`))], 0o600)
	expect("cut off", "the live log ends at record 6, but records 7 to 8 are sealed", "accesslog.jsonl:7: the live log ends at record 6")
	restore()

	// The segment object altered in the store.
	seg := segments(t, home)[0]
	orig, _ := os.ReadFile(seg)
	os.Chmod(seg, 0o600)
	alt := bytes.Replace(orig, []byte("decreto 1"), []byte("decreto X"), 1)
	if err := os.WriteFile(seg, alt, 0o600); err != nil {
		t.Fatal(err)
	}
	expect("segment altered", "does not match the hash in the signed index", "does not match its hash (altered)")
	os.WriteFile(seg, orig, 0o600)

	// The segment gone from the store: its records are sealed nowhere.
	os.Rename(seg, seg+".away")
	expect("segment removed", "record 1: records 1 to 5 are in no sealed segment", "missing from the store")
	os.Rename(seg+".away", seg)

	// A segment added to a package beside its signed index.
	forged := filepath.Join(filepath.Dir(seg), "9-9-"+strings.Repeat("0", 64)+".jsonl")
	os.WriteFile(forged, []byte("{}\n"), 0o600)
	if r := conserva(t, append(cfg, "accesslog", "verify")...); r.code != 1 || !strings.Contains(r.stdout, "is not listed in the signed index of package") {
		t.Errorf("a segment outside the index: %d %s", r.code, r.stdout)
	}
	os.Remove(forged)

	// The package's signature damaged: the segment is in a package that
	// no longer verifies against the pinned roots.
	p7s := filepath.Join(filepath.Dir(filepath.Dir(seg)), "index.xml.p7s")
	sig, _ := os.ReadFile(p7s)
	os.Chmod(p7s, 0o600)
	bad := append([]byte(nil), sig...)
	bad[len(bad)-10] ^= 0xff
	os.WriteFile(p7s, bad, 0o600)
	if r := conserva(t, append(cfg, "accesslog", "verify")...); r.code != 1 || !strings.Contains(r.stdout, "index.xml.p7s (package ") {
		t.Errorf("a segment in a package whose signature fails: %d %s", r.code, r.stdout)
	}
	os.WriteFile(p7s, sig, 0o600)
	if r := conserva(t, append(cfg, "accesslog", "verify")...); r.code != 0 {
		t.Fatalf("verify after restoring everything: %d %s", r.code, r.stdout)
	}

	// A rebuilt catalog knows from the store how far the log is sealed:
	// nothing is sealed twice, the next record goes into the next segment.
	// The run history is carried over.
	if r := conserva(t, append(cfg, "catalog", "rebuild")...); r.code != 0 {
		t.Fatalf("rebuild: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := conserva(t, append(cfg, "seal")...); r.code != 0 || !strings.Contains(r.stdout, "nothing to seal") {
		t.Fatalf("seal after rebuild: %d %s", r.code, r.stdout)
	}
	appendAccess(t, logPath, 1)
	if r := conserva(t, append(cfg, "seal")...); r.code != 0 || !strings.Contains(r.stdout, "access log records 9 to 9 sealed") {
		t.Fatalf("seal after rebuild: %d %s", r.code, r.stdout)
	}
	if r := conserva(t, append(cfg, "accesslog", "verify")...); r.code != 0 || !strings.Contains(r.stdout, "9 records sealed in 3 segments, 0 records not sealed yet") {
		t.Fatalf("verify after rebuild: %d %s", r.code, r.stdout)
	}
	if r := conserva(t, append(cfg, "runs", "--json")...); r.code != 0 || strings.Count(r.stdout, `"command":"seal"`) < 5 {
		t.Fatalf("the run history after rebuild: %d %s", r.code, r.stdout)
	}
}

// TestAccessLogSealBesideAppends: records appended by another process
// while a seal runs are never lost: the next seal takes them.
func TestAccessLogSealBesideAppends(t *testing.T) {
	_, cfg, _, _ := sealedDossier(t)
	home := cfg[1]
	logPath := filepath.Join(home, accesslog.FileName)
	appendAccess(t, logPath, 2)
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if _, err := accesslog.Append(logPath, accesslog.Record{User: "aud", Role: "auditor", Action: "audit", Result: "ok"}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 3 {
		if r := conserva(t, append(cfg, "seal")...); r.code != 0 {
			t.Errorf("seal beside appends: %d %s %s", r.code, r.stdout, r.stderr)
		}
	}
	stop.Store(true)
	wg.Wait()
	if r := conserva(t, append(cfg, "seal")...); r.code != 0 {
		t.Fatalf("last seal: %d %s", r.code, r.stderr)
	}
	rep, _ := accesslog.Verify(logPath)
	r := conserva(t, append(cfg, "accesslog", "verify")...)
	want := fmt.Sprintf("%d records sealed in", rep.Records)
	if r.code != 0 || !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "0 records not sealed") {
		t.Fatalf("after seals beside appends (%d records): %d %s %s", rep.Records, r.code, r.stdout, r.stderr)
	}
}
