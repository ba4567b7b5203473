package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ingestFixtures makes an archive holding a dossier and a tampered message.
func agidArchive(t *testing.T, config string) (home string, sum map[string]any) {
	t.Helper()
	set := fixtures(t)
	home = filepath.Join(t.TempDir(), "archive")
	if config != "" {
		os.MkdirAll(home, 0o755)
		os.WriteFile(filepath.Join(home, "conserva.toml"), []byte(config), 0o644)
	}
	src := t.TempDir()
	files, err := set.Provider.Dossier("Fattura 2026/5", []string{"fornitore@pec.example"}, []string{"ufficio@pec.ente.example"}, []byte("pdf"), set.CA.Cert.NotBefore.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range files {
		os.WriteFile(filepath.Join(src, name), raw, 0o644)
	}
	os.WriteFile(filepath.Join(src, "tampered.eml"), set.Get("tampered-body").Raw, 0o644)
	r := conserva(t, "--archive", home, "ingest", "--json", "--trust", set.TrustPEM, src)
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil || r.code != 0 {
		t.Fatalf("ingest: exit %d, %q, %v", r.code, r.stdout, err)
	}
	return home, sum
}

func TestReportsCLI(t *testing.T) {
	home, sum := agidArchive(t, "")
	run, _ := sum["report"].(string)
	if run == "" {
		t.Fatalf("ingest --json names no report: %v", sum)
	}
	r := conserva(t, "--archive", home, "reports", "list", "--json")
	var list struct {
		Reports []struct {
			Run      string `json:"run"`
			Archived int    `json:"archived"`
			Flagged  int    `json:"flagged"`
		} `json:"reports"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || r.code != 0 || len(list.Reports) != 1 || list.Reports[0].Run != run || list.Reports[0].Archived != 5 || list.Reports[0].Flagged != 1 {
		t.Fatalf("reports list: %d %s %v", r.code, r.stdout, err)
	}
	if r := conserva(t, "--archive", home, "reports", "list"); r.code != 0 || !strings.Contains(r.stdout, run) || !strings.Contains(r.stdout, "1 report") {
		t.Fatalf("reports list: %d %s", r.code, r.stdout)
	}
	if r := conserva(t, "--archive", home, "reports", "show", run); r.code != 1 || !strings.Contains(r.stdout, "not signed yet") {
		t.Fatalf("reports show before a seal: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := conserva(t, "--archive", home, "seal"); r.code != 0 {
		t.Fatalf("seal: %d %s", r.code, r.stderr)
	}
	if r := conserva(t, "--archive", home, "reports", "show", run); r.code != 0 || !strings.Contains(r.stdout, "5 archived, 1 flagged") || !strings.Contains(r.stdout, "verifies against the kept roots") {
		t.Fatalf("reports show: %d %s %s", r.code, r.stdout, r.stderr)
	}
	out := filepath.Join(t.TempDir(), "out")
	if r := conserva(t, "--archive", home, "reports", "export", run, "--out", out); r.code != 0 {
		t.Fatalf("reports export: %d %s", r.code, r.stderr)
	}
	for _, f := range []string{"rapporto.xml", "rapporto.xml.p7s", "rapporto.xml.p7s.tsr", "signer-roots.pem", "tsa-roots.pem", "VERIFY.txt", "conserva-versamento.xsd"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if r := conserva(t, "--archive", home, "reports", "show", "20991231"); r.code != 1 {
		t.Fatalf("unknown run: exit %d", r.code)
	}
	if r := conserva(t, "--archive", home, "reports", "export", run); r.code != 2 {
		t.Fatalf("export without --out: exit %d", r.code)
	}
}

const classifyConfig = `[agid]
addresses = ["ufficio@pec.ente.example"]
[[classify]]
subject = "^Fattura"
kind = "posta-certificata"
class = "4.2.1"
fascicolo = "fatture-2026"
`

// Rules file messages at ingest; search finds them by class and fascicolo;
// a reclassification is a new event and the old one stays; a rebuilt
// catalog gets it back from the store.
func TestClassifyCLI(t *testing.T) {
	home, _ := agidArchive(t, classifyConfig)
	search := func(args ...string) []map[string]any {
		t.Helper()
		r := conserva(t, append([]string{"--archive", home, "search", "--json"}, args...)...)
		if r.code != 0 {
			t.Fatalf("search %v: %d %s", args, r.code, r.stderr)
		}
		return decodeLines(t, r.stdout)
	}
	all := search()
	filed := search("--class", "4.2")
	if len(filed) == 0 || len(filed) == len(all) {
		t.Fatalf("--class 4.2: %d of %d", len(filed), len(all))
	}
	if n := len(search("--fascicolo", "fatture-2026")); n != len(filed) {
		t.Fatalf("--fascicolo: %d, --class: %d", n, len(filed))
	}
	if n := len(search("--class", "4.2.10")); n != 0 {
		t.Fatalf("--class 4.2.10 matched %d", n)
	}
	id := filed[0]["id"].(string)
	if r := conserva(t, "--archive", home, "classify", id[:12], "--class", "7.1"); r.code != 2 {
		t.Fatalf("classify without --by: exit %d", r.code)
	}
	r := conserva(t, "--archive", home, "classify", id[:12], "--class", "7.1", "--by", "Mario Rossi", "--reason", "errore di smistamento", "--json")
	var res struct {
		History []struct {
			By    string         `json:"by"`
			Class map[string]any `json:"class"`
		} `json:"history"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 0 || len(res.History) != 2 ||
		res.History[0].Class["code"] != "4.2.1" || res.History[1].Class["code"] != "7.1" || res.History[1].By != "Mario Rossi" {
		t.Fatalf("classify: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if n := len(search("--class", "7.1")); n != 1 {
		t.Fatalf("after reclassifying, --class 7.1 finds %d", n)
	}
	if r := conserva(t, "--archive", home, "catalog", "rebuild"); r.code != 0 {
		t.Fatalf("rebuild: %d %s", r.code, r.stderr)
	}
	got := search("--class", "7.1")
	if len(got) != 1 {
		t.Fatalf("after a rebuild, --class 7.1 finds %d", len(got))
	}
	if h, _ := got[0]["class_history"].([]any); len(h) != 2 {
		t.Fatalf("after a rebuild the history is %v", got[0]["class_history"])
	}
}

func TestStatsCLI(t *testing.T) {
	home, sum := agidArchive(t, classifyConfig)
	type row struct {
		Key                                                           string
		Messages, Sent, Received, Receipts, DeliveryFailures, Flagged int
		Bytes                                                         int64
	}
	stats := func(by string) []row {
		t.Helper()
		args := []string{"--archive", home, "stats", "--json"}
		if by != "" {
			args = append(args, "--by", by)
		}
		r := conserva(t, args...)
		var res struct{ Rows []row }
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 0 {
			t.Fatalf("stats %s: %d %s %s", by, r.code, r.stdout, r.stderr)
		}
		return res.Rows
	}
	all := stats("")
	if len(all) != 1 || all[0].Messages != int(sum["archived"].(float64)) || all[0].Flagged != 1 || all[0].Bytes == 0 ||
		all[0].Receipts == 0 || all[0].Messages != all[0].Sent+all[0].Received+all[0].Receipts {
		t.Fatalf("totals %+v (ingest said %v)", all, sum)
	}
	for _, by := range []string{"mailbox", "sender", "month"} {
		n, b := 0, int64(0)
		for _, r := range stats(by) {
			n += r.Messages
			b += r.Bytes
		}
		if n != all[0].Messages || b != all[0].Bytes {
			t.Errorf("--by %s: %d messages %d bytes, totals %d %d", by, n, b, all[0].Messages, all[0].Bytes)
		}
	}
	if r := conserva(t, "--archive", home, "stats", "--by", "weather"); r.code != 2 {
		t.Fatalf("--by weather: exit %d", r.code)
	}
	if r := conserva(t, "--archive", home, "stats"); r.code != 0 || !strings.Contains(r.stdout, "RECEIVED") {
		t.Fatalf("stats: %d %s", r.code, r.stdout)
	}
}

func TestScartoCLI(t *testing.T) {
	home, _ := agidArchive(t, "store = \"local\"\nretention = \"1d\"\n")
	if r := conserva(t, "--archive", home, "seal"); r.code != 0 {
		t.Fatalf("seal: %d %s", r.code, r.stderr)
	}
	r := conserva(t, "--archive", home, "scarto", "propose", "--json")
	if r.code != 0 || strings.TrimSpace(r.stdout) != `{"dossiers":[],"proposal":""}` {
		t.Fatalf("propose now: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = conserva(t, "--archive", home, "scarto", "propose", "--before", "2099-01-01", "--json")
	var p struct {
		Proposal string           `json:"proposal"`
		Dossiers []map[string]any `json:"dossiers"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil || r.code != 0 || p.Proposal == "" || len(p.Dossiers) == 0 {
		t.Fatalf("propose: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := conserva(t, "--archive", home, "scarto", "execute", p.Proposal); r.code != 1 || !strings.Contains(r.stderr, "not approved") {
		t.Fatalf("execute unapproved: %d %s", r.code, r.stderr)
	}
	if r := conserva(t, "--archive", home, "scarto", "approve", p.Proposal); r.code != 2 {
		t.Fatalf("approve without --by: %d", r.code)
	}
	if r := conserva(t, "--archive", home, "scarto", "approve", p.Proposal, "--by", "Responsabile", "--authorization", "MiC-SAB 42/2026"); r.code != 0 {
		t.Fatalf("approve: %d %s", r.code, r.stderr)
	}
	// Just written: the retention has not ended, the store refuses.
	r = conserva(t, "--archive", home, "scarto", "execute", p.Proposal)
	if r.code != 1 || !strings.Contains(r.stdout, "0 deleted") || !strings.Contains(r.stdout, "under retention") {
		t.Fatalf("execute: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := conserva(t, "--archive", home, "scarto", "list"); r.code != 0 || !strings.Contains(r.stdout, "Responsabile") {
		t.Fatalf("list: %d %s", r.code, r.stdout)
	}
	// Each step of the disposal is in the run history, with what it did
	// and why nothing was deleted.
	hist := decodeLines(t, conserva(t, "--archive", home, "runs", "--json").stdout)
	steps := map[string]map[string]any{}
	for _, h := range hist {
		if c, _ := h["command"].(string); strings.HasPrefix(c, "scarto ") {
			if _, seen := steps[c]; !seen { // newest first
				steps[c] = h
			}
		}
	}
	exec, _ := steps["scarto execute"]["counts"].(map[string]any)
	errs, _ := steps["scarto execute"]["errors"].([]any)
	if len(steps) != 3 || steps["scarto execute"]["outcome"] != "findings" || steps["scarto approve"]["outcome"] != "ok" ||
		exec["deleted"] != 0.0 || exec["refused"] == 0.0 || len(errs) == 0 || !strings.Contains(errs[0].(string), "under retention") {
		t.Fatalf("the disposal's run history: %v", steps)
	}
	out := filepath.Join(t.TempDir(), "x")
	if r := conserva(t, "--archive", home, "scarto", "export", p.Proposal, "--out", out); r.code != 0 {
		t.Fatalf("export: %d %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "verbale", "VERIFY.txt")); err != nil {
		t.Fatal(err)
	}
}
