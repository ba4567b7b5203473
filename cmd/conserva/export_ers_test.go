package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportShipsEvidenceRecords: each message of a pack has its latest
// record under ers/, listed in the signed manifest; VERIFY.txt climbs each
// record's hash path with sha256sum and checks its first archive timestamp
// with openssl, after a renewal too, and names a message that changed.
func TestExportShipsEvidenceRecords(t *testing.T) {
	_, cfg, ref, root := sealedDossier(t)
	for _, renew := range []bool{false, true} {
		if renew {
			if r := conserva(t, append(cfg, "renew", "--force")...); r.code != 0 {
				t.Fatalf("renew: %s %s", r.stdout, r.stderr)
			}
		}
		dir, r := exportPack(t, cfg, ref)
		if r.code != 0 {
			t.Fatalf("export: %s %s", r.stdout, r.stderr)
		}
		var rep struct {
			Messages []struct {
				ID, File         string
				EvidenceRecord   string `json:"evidence_record"`
				EvidenceRecordOK bool   `json:"evidence_record_ok"`
			} `json:"verified_messages"`
		}
		if err := json.Unmarshal([]byte(mustRead(t, filepath.Join(dir, "report.json"))), &rep); err != nil {
			t.Fatal(err)
		}
		sums := string(mustRead(t, filepath.Join(dir, "SHA256SUMS")))
		for _, m := range rep.Messages {
			if m.EvidenceRecord != "ers/"+m.ID+".ers" || !m.EvidenceRecordOK || !strings.Contains(sums, "  ers/"+m.ID+".ers\n") {
				t.Fatalf("message %s: record %q ok %v, in the manifest: %v", m.ID, m.EvidenceRecord, m.EvidenceRecordOK, strings.Contains(sums, m.ID+".ers"))
			}
		}
		out, code := verifyPack(t, dir, pins(root)...)
		if code != 0 || strings.Count(out, "evidence record's hash path leads to") != len(rep.Messages) {
			t.Fatalf("VERIFY.txt (renewed: %v): %d\n%s", renew, code, out)
		}
		if renew {
			// A changed message: its record names it (as the manifest does).
			m := filepath.Join(dir, rep.Messages[0].File)
			data := mustRead(t, m)
			data[len(data)/2] ^= 1
			os.WriteFile(m, data, 0o644)
			out, code := verifyPack(t, dir, pins(root)...)
			if code != 1 || !strings.Contains(out, "FAILED: "+rep.Messages[0].EvidenceRecord+": the SHA-256 of "+rep.Messages[0].File) {
				t.Fatalf("changed message: %d\n%s", code, out)
			}
		}
	}
}
