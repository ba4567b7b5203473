package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/pec"
	bolt "go.etcd.io/bbolt"
)

// editCatalog changes catalog.db behind conserva's back, as an operator
// with a bbolt tool (or a bug) would.
func editCatalog(t *testing.T, home string, fn func(c *archive.Catalog) error) {
	t.Helper()
	c, err := archive.OpenCatalog(filepath.Join(home, "catalog.db"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := fn(c); err != nil {
		t.Fatal(err)
	}
}

// editRecord changes the fields of a record, as its JSON names them.
func editRecord(t *testing.T, home, id string, fn func(map[string]any)) {
	t.Helper()
	editCatalog(t, home, func(c *archive.Catalog) error {
		return c.Update(func(get func(string) (*archive.Record, error), put func(*archive.Record) error) error {
			rec, err := get(id)
			if err != nil || rec == nil {
				return fmt.Errorf("record %s: %v", id, err)
			}
			var r map[string]any
			data, _ := json.Marshal(rec)
			json.Unmarshal(data, &r)
			fn(r)
			data, _ = json.Marshal(r)
			var edited archive.Record
			if err := json.Unmarshal(data, &edited); err != nil {
				return err
			}
			return put(&edited)
		})
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
	tampered := filepath.Join(t.TempDir(), "tampered.eml")
	os.WriteFile(tampered, set.Get("tampered-body").Raw, 0o644)
	conserva(t, append(cfg, "ingest", "--trust", set.TrustPEM, tampered)...)
	if r := conserva(t, append(cfg, "seal")...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	rep, r := audit(t, home, "audit", "--trust", set.TrustPEM)
	if r.code != 0 || rep.Stored != 7 || rep.Catalogued != 7 || rep.Reverified != 7 || len(rep.Problems) != 0 {
		t.Fatalf("intact archive: exit %d %s", r.code, r.stdout)
	}
	if rep, r := audit(t, home, "catalog", "check", "--trust", set.TrustPEM); r.code != 0 || len(rep.Problems) != 0 {
		t.Fatalf("catalog check of an intact archive: exit %d %s", r.code, r.stdout)
	}
	rows := decodeLines(t, conserva(t, append(cfg, "search", "--json")...).stdout)
	var ids []string // ids[1] is the tampered message
	bad := ""
	for _, row := range rows {
		if row["signature"] == "invalid" {
			bad = row["id"].(string)
		} else {
			ids = append(ids, row["id"].(string))
		}
	}
	ids = append([]string{ids[0], bad}, ids[1:]...)
	pkg := rows[0]["package"].(string)
	save := mustRead(t, filepath.Join(home, "catalog.db"))

	// 1. No catalog at all beside a full store: no command makes an empty
	// one (the next seal would put sealed messages in a second package).
	os.Remove(filepath.Join(home, "catalog.db"))
	for _, cmd := range [][]string{{"audit"}, {"seal"}, {"search"}} {
		r = conserva(t, append(cfg, cmd...)...)
		if r.code == 0 || !strings.Contains(r.stderr, "catalog.db is missing but the store holds messages: run conserva catalog rebuild") {
			t.Fatalf("%s without catalog.db: exit %d %s %s", cmd, r.code, r.stdout, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(home, "catalog.db")); err == nil {
		t.Fatal("an empty catalog.db was made")
	}
	// An empty catalog beside it: every object named.
	a, err := archive.OpenCatalog(filepath.Join(home, "catalog.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	rep, r = audit(t, home, "audit")
	if r.code != 1 || !rep.names("", "catalog is empty but the store holds 7 messages") || !rep.names(ids[0], "stored but not catalogued") ||
		!rep.names(pkg, "sealed package the catalog does not know") {
		t.Fatalf("empty catalog: exit %d %s", r.code, r.stdout)
	}
	os.WriteFile(filepath.Join(home, "catalog.db"), save, 0o600)

	// 2. A deleted record, a forged verdict and subject, a cleared package.
	editCatalog(t, home, func(c *archive.Catalog) error { return c.Remove(ids[0]) })
	editRecord(t, home, ids[1], func(r map[string]any) {
		r["signature"], r["reason"], r["subject"] = "valid", "looks fine", "FORGED"
	})
	editRecord(t, home, ids[2], func(r map[string]any) { r["package"] = "" })
	for _, cmd := range [][]string{{"audit"}, {"catalog", "check"}} {
		rep, r = audit(t, home, append(cmd, "--trust", set.TrustPEM)...)
		if r.code != 1 || !rep.names(ids[0], "stored but not catalogued") ||
			!rep.names(ids[1], `the catalog says subject "FORGED"`) || !rep.names(ids[1], `the catalog says verdict valid, the stored message invalid`) ||
			!rep.names(ids[2], "listed in the signed index of package "+pkg+", but the catalog has it in no package") {
			t.Fatalf("%s of an edited catalog: exit %d %s", cmd, r.code, r.stdout)
		}
	}
	// The forged verdict is named without --trust too (the anchors given
	// at ingest are kept in the archive; and tampering does not depend on
	// trust anyway).
	rep, r = audit(t, home, "audit")
	if !rep.names(ids[1], `the catalog says verdict valid, the stored message invalid`) || !rep.names(ids[1], `the catalog says reason "looks fine"`) {
		t.Fatalf("audit with the kept anchors does not name the forged verdict: %s", r.stdout)
	}

	// 3. The next seal puts the cleared message in a second package: named.
	conserva(t, append(cfg, "seal")...)
	rep, r = audit(t, home, "audit", "--trust", set.TrustPEM)
	if r.code != 1 || !rep.names(ids[2], "listed in 2 packages") {
		t.Fatalf("a message in two packages: exit %d %s", r.code, r.stdout)
	}
}

func catalogRecords(t *testing.T, home string) map[string]*archive.Record {
	t.Helper()
	a, err := archive.Open(home, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	out := map[string]*archive.Record{}
	if err := a.Catalog.Scan(func(r *archive.Record) error { out[r.ID] = r; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRebuildKeepsDamage is issue 12 case 3. Before: after a flipped byte
// rebuild swapped in a catalog without the message; a deleted message or a
// removed package folder gave exit 0, the package's messages became
// unsealed and were sealed again; a broken signature was accepted.
func TestRebuildKeepsDamage(t *testing.T) {
	set := fixtures(t)
	home := filepath.Join(t.TempDir(), "archive")
	cfg := []string{"--archive", home}
	trust := []string{"--trust", set.TrustPEM}
	ingestFixtures(t, home, 4)
	conserva(t, append(cfg, "seal")...)
	before := catalogRecords(t, home)
	for i := 0; i < 3; i++ { // a second package of three
		p := filepath.Join(t.TempDir(), "m.eml")
		raw, _ := set.Provider.Build(pecgen.Spec{Kind: pec.KindAvvenutaConsegna, Subject: fmt.Sprint("second ", i)})
		os.WriteFile(p, raw, 0o644)
		conserva(t, append(append(cfg, "ingest"), append(trust, p)...)...)
	}
	conserva(t, append(cfg, "seal")...)
	all := catalogRecords(t, home)
	var first []string
	var second string
	for id, r := range all {
		if before[id] != nil {
			first = append(first, id)
		} else {
			second = r.Package
		}
	}
	sort.Strings(first)
	flipped, deleted := all[first[0]], all[first[1]]
	obj := filepath.Join(home, "store", flipped.Key)
	os.Chmod(obj, 0o644)
	data := mustRead(t, obj)
	data[len(data)/2] ^= 1
	os.WriteFile(obj, data, 0o644)
	os.Remove(filepath.Join(home, "store", deleted.Key))
	os.RemoveAll(filepath.Join(home, "store", "packages", second))
	pending := filepath.Join(t.TempDir(), "pending.eml")
	os.WriteFile(pending, set.Get("presa-in-carico").Raw, 0o644)
	conserva(t, append(append(cfg, "ingest"), append(trust, pending)...)...)

	r := conserva(t, append(append(cfg, "catalog", "rebuild", "--json"), trust...)...)
	var sum archive.RebuildSummary
	json.Unmarshal([]byte(r.stdout), &sum)
	if r.code != 1 || sum.Damaged != 1 || sum.Missing != 1 || sum.BrokenPackages != 1 || sum.Messages != 6 {
		t.Fatalf("rebuild: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	recs := catalogRecords(t, home)
	if len(recs) != 8 || !strings.HasPrefix(recs[flipped.ID].Damage, "damaged") || recs[deleted.ID].Damage != "missing from the store" {
		t.Fatalf("damaged and missing not kept: %d records; %q %q", len(recs), recs[flipped.ID].Damage, recs[deleted.ID].Damage)
	}
	if recs[deleted.ID].Subject != deleted.Subject || recs[deleted.ID].Package != deleted.Package {
		t.Fatalf("what the old catalog knew of the missing message is lost: %+v", recs[deleted.ID])
	}
	for id, rec := range recs {
		if all[id] != nil && all[id].Package == second && (rec.Package != second || !strings.Contains(rec.PackageProblem, "missing from the store")) {
			t.Fatalf("a message of the removed package: package %q, problem %q", rec.Package, rec.PackageProblem)
		}
		if all[id] != nil && (rec.Sources[0] != all[id].Sources[0] || !rec.IngestedAt.Equal(all[id].IngestedAt)) {
			t.Fatalf("sources or ingestion time not carried over: %v %v", rec.Sources, rec.IngestedAt)
		}
	}
	rep, ar := audit(t, home, append([]string{"audit"}, trust...)...)
	if ar.code != 1 || !rep.names(flipped.ID, "damaged") || !rep.names(deleted.ID, "missing from the store") || !rep.names(second, "missing from the store") {
		t.Fatalf("audit after the rebuild: %d %s", ar.code, ar.stdout)
	}
	// Only the pending message is sealed: no message of the removed package,
	// nothing damaged or missing.
	if r := conserva(t, append(cfg, "seal", "--json")...); r.code != 0 || !strings.Contains(r.stdout, `"messages":1`) {
		t.Fatalf("seal after the rebuild: %d %s %s", r.code, r.stdout, r.stderr)
	}

	// A package whose signature no longer matches is named, its messages kept.
	p7s := filepath.Join(home, "store", "packages", flipped.Package, "index.xml.p7s")
	os.Chmod(p7s, 0o644)
	sig := mustRead(t, p7s)
	sig[len(sig)-40] ^= 1
	os.WriteFile(p7s, sig, 0o644)
	r = conserva(t, append(append(cfg, "catalog", "rebuild", "--json"), trust...)...)
	json.Unmarshal([]byte(r.stdout), &sum)
	if r.code != 1 || sum.BrokenPackages != 2 || !strings.Contains(r.stdout, "package "+flipped.Package+" is broken") {
		t.Fatalf("rebuild with a broken signature: %d %s", r.code, r.stdout)
	}
	recs = catalogRecords(t, home)
	if m := recs[first[2]]; m.Package != flipped.Package || !strings.Contains(m.PackageProblem, "broken") {
		t.Fatalf("a message of the broken package: %q %q", m.Package, m.PackageProblem)
	}
	if r := conserva(t, append(cfg, "seal", "--json")...); r.code != 0 || !strings.Contains(r.stdout, `"messages":0`) {
		t.Fatalf("seal after the second rebuild sealed something: %s", r.stdout)
	}
}

// TestDamagedCatalogNeverPanics is issue 12 case 6: catalog.db with a page
// overwritten (8 bytes at a page's offset 8, its header, as in the issue;
// or 8 bytes anywhere in it). Before, audit, search and catalog rebuild
// itself panicked with a stack trace. Now no command panics, a damage hit
// says so, and rebuild makes a catalog that audit finds equal to the store.
func TestDamagedCatalogNeverPanics(t *testing.T) {
	set := fixtures(t)
	home := filepath.Join(t.TempDir(), "archive")
	cfg := []string{"--archive", home}
	ingestFixtures(t, home, 30)
	if r := conserva(t, append(cfg, "seal")...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	id := decodeLines(t, conserva(t, append(cfg, "search", "--json")...).stdout)[0]["id"].(string)
	catalog := filepath.Join(home, "catalog.db")
	pristine := mustRead(t, catalog)
	db, err := bolt.Open(catalog, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true, Timeout: 5e9})
	if err != nil {
		t.Fatal(err)
	}
	pageSize := db.Info().PageSize
	// Pages in use (leaf, branch, overflow): damage to a free page is harmless.
	var used []int64
	var pages int64
	db.View(func(tx *bolt.Tx) error {
		pages = tx.Size() / int64(pageSize)
		for p := int64(2); p < pages; p++ {
			if info, err := tx.Page(int(p)); err == nil && info != nil && info.Type != "free" {
				used = append(used, p)
			}
		}
		return nil
	})
	db.Close()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 6))
	commands := [][]string{{"audit", "--trust", set.TrustPEM}, {"search", "--json"}, {"show", id}, {"seal"}, {"catalog", "rebuild", "--trust", set.TrustPEM}}
	hits := 0
	for i := range 8 {
		page := used[rng.IntN(len(used))]
		off := page*int64(pageSize) + 8
		if i%2 == 1 {
			off = page*int64(pageSize) + rng.Int64N(int64(pageSize)-8)
		}
		damaged := append([]byte(nil), pristine...)
		for k := range 8 {
			damaged[off+int64(k)] = byte(rng.Uint32())
		}
		for _, c := range commands {
			if err := os.WriteFile(catalog, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			r := conserva(t, append(cfg, c...)...)
			if strings.Contains(r.stderr, "internal error") {
				t.Fatalf("page %d offset %d: %s panicked: %s", page, off, c[0], r.stderr)
			}
			if strings.Contains(r.stderr+r.stdout, "catalog is damaged") {
				hits++
				t.Logf("page %d offset %d %s: exit %d %s", page, off, c[0], r.code, firstLine(r.stderr+r.stdout))
				if r.code == 0 && c[0] != "catalog" { // rebuild warns, and succeeds
					t.Fatalf("page %d: %s reports damage with exit 0", page, c[0])
				}
			}
			if c[0] == "catalog" {
				if r.code != 0 {
					t.Fatalf("page %d offset %d: rebuild over a damaged catalog: %d %s %s", page, off, r.code, r.stdout, r.stderr)
				}
				if rep, r := audit(t, home, "audit", "--trust", set.TrustPEM); r.code != 0 || rep.Catalogued != 30 {
					t.Fatalf("page %d: audit after rebuilding a damaged catalog: %d %s", page, r.code, r.stdout)
				}
			}
		}
	}
	// A catalog that is not even a bbolt file any more: every command says
	// so, and rebuild makes a new one.
	garbage := make([]byte, len(pristine))
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	os.WriteFile(catalog, garbage, 0o600)
	if r := conserva(t, append(cfg, "search")...); r.code == 0 || !strings.Contains(r.stderr, "the catalog is damaged: run conserva catalog rebuild") {
		t.Fatalf("search over garbage: %d %s", r.code, r.stderr)
	}
	if r := conserva(t, append(cfg, "catalog", "rebuild", "--trust", set.TrustPEM)...); r.code != 0 {
		t.Fatalf("rebuild over garbage: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if rep, r := audit(t, home, "audit", "--trust", set.TrustPEM); r.code != 0 || rep.Catalogued != 30 {
		t.Fatalf("audit after rebuilding over garbage: %d %s", r.code, r.stdout)
	}
	t.Logf("%d of %d runs reported the damage (%d of %d pages in use)", hits, 8*len(commands), len(used), pages)
	if hits == 0 {
		t.Fatal("no damage was ever noticed: the test damaged nothing that matters")
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
