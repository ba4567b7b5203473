package archive_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/storage"
)

// twoDossiers archives and seals two dossiers (an envelope and its
// acceptance each) in an archive kept for one day.
func twoDossiers(t *testing.T, a *archive.Archive) (held, free string) {
	t.Helper()
	w, err := newWorld()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i, orig := range []string{"<held@client.example>", "<free@client.example>"} {
		for j, k := range []pec.Kind{pec.KindPostaCertificata, pec.KindAccettazione} {
			raw, err := w.prov.Build(pecgen.Spec{Kind: k, OriginalID: orig})
			if err != nil {
				t.Fatal(err)
			}
			writeFiles(t, dir, map[string][]byte{fmt.Sprintf("%d-%d.eml", i, j): raw})
		}
	}
	run(t, a, pec.NewTrustStore(w.ca.Cert), dir)
	if _, _, err := a.Seal(context.Background(), archive.SealOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetHold(context.Background(), "held@client.example", true); err != nil {
		t.Fatal(err)
	}
	return "held@client.example", "free@client.example"
}

// age makes the stored messages look written three days ago.
func age(t *testing.T, a *archive.Archive) {
	past := time.Now().AddDate(0, 0, -3)
	var ids []string
	a.Catalog.Scan(func(r *archive.Record) error {
		ids = append(ids, r.ID)
		return os.Chtimes(filepath.Join(a.Dir, "store", r.Key), past, past)
	})
	// Both clocks: the store's (file times) and the catalog's (ingestion).
	a.Catalog.Update(func(get func(string) (*archive.Record, error), put func(*archive.Record) error) error {
		for _, id := range ids {
			r, _ := get(id)
			r.IngestedAt = r.IngestedAt.AddDate(0, 0, -3)
			put(r)
		}
		return nil
	})
}

func TestScarto(t *testing.T) {
	ctx := context.Background()
	a := openWith(t, "store = \"local\"\nretention = \"1d\"\n")
	held, free := twoDossiers(t, a)
	// Nothing has ended its retention yet.
	if p, err := a.ProposeScarto(ctx, time.Now()); err != nil || p != nil {
		t.Fatalf("propose now: %+v %v", p, err)
	}
	p, err := a.ProposeScarto(ctx, time.Now().AddDate(0, 0, 2))
	if err != nil || p == nil {
		t.Fatalf("propose: %v", err)
	}
	if len(p.Dossiers) != 1 || p.Dossiers[0].ID != free || len(p.Dossiers[0].Messages) != 2 {
		t.Fatalf("proposed %+v (the dossier under legal hold %s must not be)", p.Dossiers, held)
	}
	age(t, a)
	// Unapproved: nothing is deleted.
	if _, err := a.ExecuteScarto(ctx, p.ID); err == nil || !strings.Contains(err.Error(), "not approved") {
		t.Fatalf("an unapproved proposal executed: %v", err)
	}
	for _, m := range p.Dossiers[0].Messages {
		if _, err := a.Store.Stat(ctx, m.Key); err != nil {
			t.Fatalf("deleted without approval: %v", err)
		}
	}
	if _, err := a.ApproveScarto(ctx, p.ID, "", ""); err == nil {
		t.Fatal("approved by nobody")
	}
	if _, err := a.ApproveScarto(ctx, p.ID, "Dott.ssa Bianchi", "Soprintendenza prot. 1234/2026"); err != nil {
		t.Fatal(err)
	}
	// Meanwhile a hold is put on it: that message is never deleted.
	if _, err := a.SetHold(ctx, free, true); err != nil {
		t.Fatal(err)
	}
	done, err := a.ExecuteScarto(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(done.Disposal.Deleted) != 0 || len(done.Disposal.Refused) != 2 || !strings.Contains(done.Disposal.Refused[0].Reason, "legal hold") {
		t.Fatalf("held: %+v", done.Disposal)
	}
	if _, err := a.ExecuteScarto(ctx, p.ID); err == nil {
		t.Fatal("executed twice")
	}
	// Lifted: a new proposal, approved, deletes.
	a.SetHold(ctx, free, false)
	p2, err := a.ProposeScarto(ctx, time.Now().AddDate(0, 0, 2))
	if err != nil || p2 == nil {
		t.Fatal(err)
	}
	a.ApproveScarto(ctx, p2.ID, "Dott.ssa Bianchi", "")
	done, err = a.ExecuteScarto(ctx, p2.ID)
	if err != nil || len(done.Disposal.Deleted) != 2 || len(done.Disposal.Refused) != 0 {
		t.Fatalf("execute: %+v %v", done, err)
	}
	for _, m := range p2.Dossiers[0].Messages {
		if _, err := a.Store.Stat(ctx, m.Key); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("%s not deleted: %v", m.Key, err)
		}
		r, _ := a.Catalog.Get(m.ID)
		if r == nil || r.Disposed != p2.ID {
			t.Fatalf("record %+v", r)
		}
	}
	// The held dossier is still all there.
	rep, err := a.Audit(ctx, 0, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range rep.Problems {
		if strings.Contains(pr.Problem, "missing") {
			t.Errorf("audit after scarto: %+v", pr)
		}
	}
	// A catalog rebuilt from the store knows them disposed of, not missing.
	rs, err := a.Rebuild(ctx, nil, nil)
	if err != nil || rs.Missing != 0 || rs.Errors != 0 {
		t.Fatalf("rebuild after scarto: %+v %v", rs, err)
	}
	for _, m := range p2.Dossiers[0].Messages {
		r, _ := a.Catalog.Get(m.ID)
		if r == nil || r.Disposed != p2.ID || r.Damage != "" {
			t.Fatalf("after rebuild: %+v", r)
		}
	}
	// Even without the old catalog, the proposal comes back from the store.
	dir := a.Dir
	a.Close()
	os.Remove(filepath.Join(dir, "catalog.db"))
	a, err = archive.OpenForRebuild(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if rs, err := a.Rebuild(ctx, nil, nil); err != nil || rs.Missing != 0 {
		t.Fatalf("rebuild without a catalog: %+v %v", rs, err)
	}
	ps, err := a.Proposals(ctx)
	byID := map[string]archive.Proposal{}
	for _, x := range ps {
		byID[x.ID] = x
	}
	first, second := byID[p.ID], byID[p2.ID]
	if err != nil || len(ps) != 2 || second.Approval == nil || second.Approval.Authorization != "" || first.Approval == nil ||
		first.Approval.Authorization != "Soprintendenza prot. 1234/2026" || second.Disposal == nil || len(second.Disposal.Deleted) != 2 ||
		first.Disposal == nil || len(first.Disposal.Refused) != 2 || !strings.Contains(first.Disposal.Refused[0].Reason, "legal hold") {
		t.Fatalf("proposals from the store: %+v %v", ps, err)
	}
	// The verbale verifies with openssl and validates.
	out := filepath.Join(t.TempDir(), "scarto")
	names, err := a.ExportScarto(ctx, p2.ID, out)
	if err != nil || len(names) != 3 {
		t.Fatalf("export %v %v", names, err)
	}
	for _, n := range names {
		d := filepath.Join(out, n)
		openssl(t, d, "cms", "-verify", "-binary", "-inform", "DER", "-in", n+".xml.p7s", "-content", n+".xml", "-CAfile", "signer-roots.pem", "-purpose", "any", "-out", os.DevNull)
		openssl(t, d, "ts", "-verify", "-data", n+".xml.p7s", "-in", n+".xml.p7s.tsr", "-CAfile", "tsa-roots.pem")
		if err := xmllint(t, "conserva-scarto.xsd", filepath.Join(d, n+".xml")); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
	}
	verbale, _ := os.ReadFile(filepath.Join(out, "verbale", "verbale.xml"))
	if !strings.Contains(string(verbale), "Dott.ssa Bianchi") || strings.Count(string(verbale), "<Eliminato>") != 2 {
		t.Fatalf("verbale:\n%s", verbale)
	}
	// Forged verbale: openssl says no.
	os.WriteFile(filepath.Join(out, "verbale", "verbale.xml"), []byte(strings.Replace(string(verbale), "Bianchi", "Rossi", 1)), 0o644)
	// Forged in the store: a rebuild no longer takes it as the reason the
	// messages are gone.
	key := filepath.Join(a.Dir, "store", "scarto", p2.ID, "verbale.xml")
	os.Chmod(key, 0o644)
	os.WriteFile(key, []byte(strings.Replace(string(verbale), "Bianchi", "Rossi", 1)), 0o644)
	if rs, err := a.Rebuild(ctx, nil, nil); err != nil || rs.Missing != 2 {
		t.Fatalf("rebuild with a forged verbale: %+v %v", rs, err)
	}
	if err := opensslErr(t, filepath.Join(out, "verbale"), "cms", "-verify", "-binary", "-inform", "DER", "-in", "verbale.xml.p7s", "-content", "verbale.xml", "-CAfile", "signer-roots.pem", "-purpose", "any", "-out", os.DevNull); err == nil {
		t.Fatal("openssl verifies a forged verbale")
	}
}

// Within retention the local store refuses, and the verbale says so.
func TestScartoRefusedWithinRetention(t *testing.T) {
	ctx := context.Background()
	a := openWith(t, "store = \"local\"\nretention = \"1d\"\n")
	twoDossiers(t, a)
	p, err := a.ProposeScarto(ctx, time.Now().AddDate(0, 0, 2))
	if err != nil || p == nil {
		t.Fatal(err)
	}
	a.ApproveScarto(ctx, p.ID, "Responsabile", "")
	done, err := a.ExecuteScarto(ctx, p.ID)
	if err != nil || len(done.Disposal.Deleted) != 0 || len(done.Disposal.Refused) != 2 || !strings.Contains(done.Disposal.Refused[0].Reason, "under retention") {
		t.Fatalf("%+v %v", done, err)
	}
	for _, m := range p.Dossiers[0].Messages {
		if _, err := a.Store.Stat(ctx, m.Key); err != nil {
			t.Fatal("deleted within retention")
		}
	}
}

// A proposal forged in the store is not approved; one forged after its
// approval is not executed.
func TestScartoForgedProposal(t *testing.T) {
	ctx := context.Background()
	a := openWith(t, "store = \"local\"\nretention = \"1d\"\n")
	twoDossiers(t, a)
	p, err := a.ProposeScarto(ctx, time.Now().AddDate(0, 0, 2))
	if err != nil || p == nil {
		t.Fatal(err)
	}
	key := filepath.Join(a.Dir, "store", "scarto", p.ID, "proposta.xml")
	good, _ := os.ReadFile(key)
	os.Chmod(key, 0o644)
	os.WriteFile(key, []byte(strings.Replace(string(good), "free@", "held@", 1)), 0o644)
	if _, err := a.ApproveScarto(ctx, p.ID, "Responsabile", ""); err == nil {
		t.Fatal("a forged proposal was approved")
	}
	os.WriteFile(key, good, 0o644)
	if _, err := a.ApproveScarto(ctx, p.ID, "Responsabile", ""); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(key, []byte(strings.Replace(string(good), "free@", "held@", 1)), 0o644)
	age(t, a)
	if _, err := a.ExecuteScarto(ctx, p.ID); err == nil {
		t.Fatal("a proposal forged after approval was executed")
	}
}

// On MinIO the Object Lock refuses the deletion of what is still retained,
// and the refusal is reported in the verbale.
func TestScartoS3RefusedByStore(t *testing.T) {
	ep := testutil.S3Endpoint(t)
	t.Setenv("AWS_ENDPOINT_URL", ep)
	t.Setenv("CONSERVA_STORE", fmt.Sprintf("s3://conserva-scarto-%d/p", time.Now().UnixNano()))
	ctx := context.Background()
	a := openWith(t, "retention = \"1d\"\n")
	twoDossiers(t, a)
	// The catalog says the messages came in three days ago (so conserva's
	// own check lets them through): the store's Object Lock still refuses.
	a.Catalog.Update(func(get func(string) (*archive.Record, error), put func(*archive.Record) error) error {
		var ids []string
		a.Catalog.Scan(func(r *archive.Record) error { ids = append(ids, r.ID); return nil })
		for _, id := range ids {
			r, _ := get(id)
			r.IngestedAt = r.IngestedAt.AddDate(0, 0, -3)
			put(r)
		}
		return nil
	})
	p, err := a.ProposeScarto(ctx, time.Now().AddDate(0, 0, 2))
	if err != nil || p == nil {
		t.Fatal(err)
	}
	a.ApproveScarto(ctx, p.ID, "Responsabile", "")
	done, err := a.ExecuteScarto(ctx, p.ID)
	if err != nil || len(done.Disposal.Deleted) != 0 || len(done.Disposal.Refused) != 2 || !strings.Contains(done.Disposal.Refused[0].Reason, "the store refused") {
		t.Fatalf("%+v %v", done.Disposal, err)
	}
	for _, m := range p.Dossiers[0].Messages {
		if _, err := a.Store.Stat(ctx, m.Key); err != nil {
			t.Fatal("deleted within retention")
		}
	}
}

// A retention shortened in conserva.toml after the seal, or one that would
// overflow, never ends a sealed message's retention early.
func TestScartoKeepsTheSealedRetention(t *testing.T) {
	ctx := context.Background()
	a := openWith(t, "store = \"local\"\nretention = \"10y\"\n")
	twoDossiers(t, a)
	age(t, a)
	a.Config.Retention = "1d"
	if p, err := a.ProposeScarto(ctx, time.Now().AddDate(0, 0, 2)); err != nil || p != nil {
		t.Fatalf("proposed with the retention shortened after the seal: %+v %v", p, err)
	}
	if _, err := storage.ParseRetention("9223372036854775807y9223372036854775807y"); err == nil {
		t.Fatal("an overflowing retention was accepted")
	}
	if _, err := storage.ParseRetention("1001y"); err == nil {
		t.Fatal("a retention of more than 1000 years was accepted")
	}
}
