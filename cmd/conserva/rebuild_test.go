package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestCatalogRebuild: delete catalog.db after ingest and seal; the rebuilt
// catalog answers search and show as before.
func TestCatalogRebuild(t *testing.T) {
	set := fixtures(t)
	home := filepath.Join(t.TempDir(), "archive")
	src := t.TempDir()
	files, err := set.Provider.Dossier("Ricorso", []string{"ok@pec.example"}, []string{"ko@pec.example"}, []byte("pdf"), set.CA.Cert.NotBefore.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range files {
		os.WriteFile(filepath.Join(src, name), raw, 0o644)
	}
	os.WriteFile(filepath.Join(src, "tampered.eml"), set.Get("tampered-body").Raw, 0o644)
	cfg := []string{"--archive", home}
	if r := conserva(t, append(cfg, "ingest", "--trust", set.TrustPEM, src)...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := conserva(t, append(cfg, "seal")...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	// One more message ingested after the seal stays pending.
	extra := filepath.Join(t.TempDir(), "extra.eml")
	os.WriteFile(extra, set.Get("presa-in-carico").Raw, 0o644)
	conserva(t, append(cfg, "ingest", "--trust", set.TrustPEM, extra)...)

	snapshot := func() (string, string) {
		rows := decodeLines(t, conserva(t, append(cfg, "search", "--json")...).stdout)
		var lines []string
		for _, r := range rows {
			delete(r, "sources")
			delete(r, "ingested_at")
			delete(r, "history") // only the lost catalog knew when each verdict was given
			b, _ := json.Marshal(r)
			lines = append(lines, string(b))
		}
		sort.Strings(lines)
		ref := ""
		for _, r := range rows {
			if r["kind"] == "accettazione" {
				ref = r["ref_message_id"].(string)
			}
		}
		var d map[string]any
		json.Unmarshal([]byte(conserva(t, append(cfg, "show", "--json", ref)...).stdout), &d)
		for _, m := range d["messages"].([]any) {
			delete(m.(map[string]any), "sources")
			delete(m.(map[string]any), "ingested_at")
			delete(m.(map[string]any), "history")
		}
		b, _ := json.Marshal(d)
		return strings.Join(lines, "\n"), string(b)
	}
	beforeSearch, beforeShow := snapshot()
	if !strings.Contains(beforeSearch, `"package":"2`) || !strings.Contains(beforeSearch, `"package":""`) {
		t.Fatalf("expected sealed and pending messages:\n%s", beforeSearch)
	}
	os.Remove(filepath.Join(home, "catalog.db"))
	r := conserva(t, append(cfg, "catalog", "rebuild", "--json", "--trust", set.TrustPEM)...)
	var sum map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil || r.code != 0 {
		t.Fatalf("rebuild: %d %q %s", r.code, r.stdout, r.stderr)
	}
	if sum["messages"] != 6.0 || sum["packages"] != 1.0 || sum["errors"] != 0.0 {
		t.Fatalf("rebuild summary %v", sum)
	}
	afterSearch, afterShow := snapshot()
	if afterSearch != beforeSearch {
		t.Fatalf("search differs after rebuild:\nbefore\n%s\nafter\n%s", beforeSearch, afterSearch)
	}
	if afterShow != beforeShow {
		t.Fatalf("show differs after rebuild:\nbefore %s\nafter  %s", beforeShow, afterShow)
	}
	// Nothing sealed twice: the next seal takes only the pending message.
	if r := conserva(t, append(cfg, "seal", "--json")...); !strings.Contains(r.stdout, `"messages":1`) {
		t.Fatalf("seal after rebuild: %s %s", r.stdout, r.stderr)
	}
	// A rebuild with the catalog present keeps where messages came from.
	conserva(t, append(cfg, "catalog", "rebuild", "--trust", set.TrustPEM)...)
	rows := decodeLines(t, conserva(t, append(cfg, "search", "--json", "--kind", "presa-in-carico")...).stdout)
	if len(rows) != 1 || !strings.Contains(rows[0]["sources"].([]any)[0].(string), "store:") {
		t.Fatalf("sources after a rebuild without the old catalog: %v", rows)
	}
}
