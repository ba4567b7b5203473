package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// editCatalog changes catalog.db behind conserva's back, as an operator
// with a bbolt tool (or a bug) would.
func editCatalog(t *testing.T, home string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(home, "catalog.db"), 0o600, &bolt.Options{Timeout: 5e9})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func editRecord(t *testing.T, home, id string, fn func(map[string]any)) {
	t.Helper()
	editCatalog(t, home, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("messages"))
		var r map[string]any
		if err := json.Unmarshal(b.Get([]byte(id)), &r); err != nil {
			return err
		}
		fn(r)
		data, _ := json.Marshal(r)
		return b.Put([]byte(id), data)
	})
}

type auditOut struct {
	Stored, Catalogued, Reverified int
	Problems                       []struct{ ID, Key, Problem string }
}

func audit(t *testing.T, home string, args ...string) (auditOut, result) {
	t.Helper()
	r := conserva(t, append([]string{"--archive", home}, append(args, "--json")...)...)
	var rep auditOut
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v: %q %s", err, r.stdout, r.stderr)
	}
	return rep, r
}

func (o auditOut) names(id, words string) bool {
	for _, p := range o.Problems {
		if (id == "" || p.ID == id || strings.Contains(p.Key, id)) && strings.Contains(p.Problem, words) {
			return true
		}
	}
	return false
}

// TestAuditReconciles is issue 12 case 2: audit (and catalog check) tie the
// catalog, the store and the signed indexes together. Before, a missing
// catalog, a deleted record, a forged verdict and subject, a cleared package
// field and an uncatalogued package all passed with "0 problems", exit 0.
func TestAuditReconciles(t *testing.T) {
	set := fixtures(t)
	home := filepath.Join(t.TempDir(), "archive")
	ingestFixtures(t, home, 6)
	cfg := []string{"--archive", home}
	if r := conserva(t, append(cfg, "seal")...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	rep, r := audit(t, home, "audit", "--trust", set.TrustPEM)
	if r.code != 0 || rep.Stored != 6 || rep.Catalogued != 6 || rep.Reverified != 6 || len(rep.Problems) != 0 {
		t.Fatalf("intact archive: exit %d %s", r.code, r.stdout)
	}
	if rep, r := audit(t, home, "catalog", "check", "--trust", set.TrustPEM); r.code != 0 || len(rep.Problems) != 0 {
		t.Fatalf("catalog check of an intact archive: exit %d %s", r.code, r.stdout)
	}
	rows := decodeLines(t, conserva(t, append(cfg, "search", "--json")...).stdout)
	ids := []string{rows[0]["id"].(string), rows[1]["id"].(string), rows[2]["id"].(string)}
	pkg := rows[0]["package"].(string)
	save := mustRead(t, filepath.Join(home, "catalog.db"))

	// 1. No catalog at all beside a full store.
	os.Remove(filepath.Join(home, "catalog.db"))
	rep, r = audit(t, home, "audit")
	if r.code != 1 || !rep.names("", "catalog is empty but the store holds 6 messages") || !rep.names(ids[0], "stored but not catalogued") ||
		!rep.names(pkg, "sealed package the catalog does not know") {
		t.Fatalf("missing catalog: exit %d %s", r.code, r.stdout)
	}
	os.WriteFile(filepath.Join(home, "catalog.db"), save, 0o600)

	// 2. A deleted record, a forged verdict and subject, a cleared package.
	editCatalog(t, home, func(tx *bolt.Tx) error { return tx.Bucket([]byte("messages")).Delete([]byte(ids[0])) })
	editRecord(t, home, ids[1], func(r map[string]any) {
		r["signature"], r["reason"], r["subject"] = "valid", "looks fine", "FORGED"
	})
	editRecord(t, home, ids[2], func(r map[string]any) { r["package"] = "" })
	for _, cmd := range [][]string{{"audit"}, {"catalog", "check"}} {
		rep, r = audit(t, home, append(cmd, "--trust", set.TrustPEM)...)
		if r.code != 1 || !rep.names(ids[0], "stored but not catalogued") ||
			!rep.names(ids[1], `the catalog says subject "FORGED"`) || !rep.names(ids[1], `the catalog says reason "looks fine"`) ||
			!rep.names(ids[2], "listed in the signed index of package "+pkg+", but the catalog has it in no package") {
			t.Fatalf("%s of an edited catalog: exit %d %s", cmd, r.code, r.stdout)
		}
	}
	// The forged verdict: the fixtures' accettazione is signed by a provider
	// whose CA is in the trust file; with no anchors at all, a record saying
	// "valid" cannot be disproved, and audit says so.
	rep, r = audit(t, home, "audit")
	if !strings.Contains(r.stdout, "no trust anchors") {
		t.Fatalf("audit without anchors does not say what it could not check: %s", r.stdout)
	}

	// 3. The next seal puts the cleared message in a second package: named.
	conserva(t, append(cfg, "seal")...)
	rep, r = audit(t, home, "audit", "--trust", set.TrustPEM)
	if r.code != 1 || !rep.names(ids[2], "listed in 2 packages") {
		t.Fatalf("a message in two packages: exit %d %s", r.code, r.stdout)
	}
}
