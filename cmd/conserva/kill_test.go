package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/storage"
)

// TestIngestSurvivesKill9 kills ingest processes at several moments and
// checks after each kill that the catalog never records an object the store
// does not hold intact, then that a final run leaves every message stored and
// catalogued exactly once.
func TestIngestSurvivesKill9(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	set := fixtures(t)
	src := t.TempDir()
	const n = 600
	want := map[string]bool{}
	payload := make([]byte, 20000)
	for i := 0; i < n; i++ {
		payload[0], payload[1] = byte(i), byte(i>>8)
		raw, err := set.Provider.Build(pecgen.Spec{Kind: pec.KindPostaCertificata, Subject: fmt.Sprintf("n. %d", i), Attachment: payload})
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(raw)
		want[hex.EncodeToString(sum[:])] = true
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("m%04d.eml", i)), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	home := filepath.Join(t.TempDir(), "archive")
	for _, delay := range []time.Duration{20, 60, 120, 200, 300, 450} {
		cmd := exec.Command(bin, "--archive", home, "ingest", "--json", "--trust", set.TrustPEM, src)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		checkConsistent(t, home, want, false)
	}
	r := conserva(t, "--archive", home, "ingest", "--json", "--trust", set.TrustPEM, src)
	if r.code != 0 {
		t.Fatalf("final run: exit %d %s", r.code, r.stderr)
	}
	checkConsistent(t, home, want, true)
}

// TestGroupedIngestSurvivesKill9: many small messages from a Maildir and an
// mbox go in group commits (objects stored without an fsync each, one sync
// pass, then one catalog transaction per batch). Killed at random moments
// over a whole run, the catalog never holds an object the store does not
// hold intact, and a final run leaves every message stored and catalogued
// exactly once.
func TestGroupedIngestSurvivesKill9(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	set := fixtures(t)
	dir := t.TempDir()
	maildir := filepath.Join(dir, "Maildir")
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(maildir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var mbox strings.Builder
	const n = 600
	for i := 0; i < n; i++ {
		raw, err := set.Provider.Build(pecgen.Spec{Kind: pec.KindPostaCertificata, Subject: fmt.Sprintf("gruppo %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := os.WriteFile(filepath.Join(maildir, "cur", fmt.Sprintf("%d.m%d:2,S", i, i)), raw, 0o644); err != nil {
				t.Fatal(err)
			}
		} else {
			// An mbox message is what lies between the "From " lines.
			fmt.Fprintf(&mbox, "From conserva@example Mon Nov 30 10:00:00 2026\n%s\n", raw)
		}
	}
	box := filepath.Join(dir, "archive.mbox")
	if err := os.WriteFile(box, []byte(mbox.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(t.TempDir(), "archive")
	args := []string{"--archive", home, "ingest", "--json", "--trust", set.TrustPEM, maildir, box}
	// A run never killed gives the length of a run and the messages
	// (the bytes an mbox yields are its reader's to define).
	start := time.Now()
	ref := filepath.Join(t.TempDir(), "reference")
	if r := conserva(t, append([]string{"--archive", ref}, args[2:]...)...); r.code != 0 {
		t.Fatalf("reference run: %d %s", r.code, r.stderr)
	}
	full := time.Since(start)
	want := map[string]bool{}
	for id := range catalogRecords(t, ref) {
		want[id] = true
	}
	if len(want) != n {
		t.Fatalf("the reference run catalogued %d messages, want %d", len(want), n)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 16))
	for range 5 {
		cmd := exec.Command(bin, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Int64N(int64(full))))
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		checkConsistent(t, home, want, false)
	}
	if r := conserva(t, args...); r.code != 0 {
		t.Fatalf("final run: exit %d %s", r.code, r.stderr)
	}
	checkConsistent(t, home, want, true)
}

func checkConsistent(t *testing.T, home string, want map[string]bool, complete bool) {
	t.Helper()
	a, err := archive.Open(home, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	catalogued := 0
	err = a.Catalog.Scan(func(r *archive.Record) error {
		catalogued++
		if !want[r.ID] {
			return fmt.Errorf("unknown record %s", r.ID)
		}
		rc, err := a.Store.Get(ctx, r.Key)
		if err != nil {
			return fmt.Errorf("catalogued but not stored: %s: %v", r.ID, err)
		}
		defer rc.Close()
		h := sha256.New()
		io.Copy(h, rc)
		if hex.EncodeToString(h.Sum(nil)) != r.ID {
			return fmt.Errorf("stored object %s is damaged", r.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	a.Store.List(ctx, "messages/", func(storage.Info) error { stored++; return nil })
	if stored < catalogued {
		t.Fatalf("%d stored < %d catalogued", stored, catalogued)
	}
	if complete && (catalogued != len(want) || stored != len(want)) {
		t.Fatalf("after the final run: %d catalogued, %d stored, want %d each", catalogued, stored, len(want))
	}
	t.Logf("catalogued %d, stored %d", catalogued, stored)
}

// TestRebuildSurvivesKill9 is issue 12 case 4: catalog rebuild killed at
// random moments. Before, a kill between its two renames left no
// catalog.db: the next command made an empty one (audit: 0 objects, exit 0)
// and the next rebuild lost every record's sources. After every kill,
// audit must find the catalog equal to the store, sources intact.
func TestRebuildSurvivesKill9(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	set := fixtures(t)
	home := filepath.Join(t.TempDir(), "archive")
	const n = 40
	ingestFixtures(t, home, n)
	if r := conserva(t, "--archive", home, "seal"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	start := time.Now()
	if r := conserva(t, "--archive", home, "catalog", "rebuild", "--trust", set.TrustPEM); r.code != 0 {
		t.Fatalf("rebuild: %d %s %s", r.code, r.stdout, r.stderr)
	}
	full := time.Since(start)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 12))
	for i := range 20 {
		delay := time.Duration(rng.Int64N(int64(full) * 13 / 10))
		cmd := exec.Command(bin, "--archive", home, "catalog", "rebuild", "--trust", set.TrustPEM)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if _, err := os.Stat(filepath.Join(home, "catalog.db")); err != nil {
			t.Fatalf("kill %d after %v: %v", i, delay, err)
		}
		rep, r := audit(t, home, "audit", "--trust", set.TrustPEM)
		if r.code != 0 || rep.Catalogued != n || rep.Stored != n || len(rep.Problems) != 0 {
			t.Fatalf("kill %d after %v (a full rebuild takes %v): audit exit %d %s %s", i, delay, full, r.code, r.stdout, r.stderr)
		}
		for _, rec := range catalogRecords(t, home) {
			if strings.HasPrefix(rec.Sources[0], "store:") {
				t.Fatalf("kill %d after %v: sources lost: %v", i, delay, rec.Sources)
			}
		}
	}
	t.Logf("20 kills within %v (a full rebuild)", full)
}

// TestRebuildAfterLostCatalog: the state a rebuild killed between its two
// renames used to leave (catalog.db renamed away, the new one not yet in
// place). Before, the next command silently made an empty catalog (audit:
// 0 objects, exit 0) and the next rebuild lost every record's sources and
// ingestion times. Now commands refuse, and rebuild carries them over from
// the newest catalog.db.old-*.
func TestRebuildAfterLostCatalog(t *testing.T) {
	set := fixtures(t)
	home := filepath.Join(t.TempDir(), "archive")
	ingestFixtures(t, home, 5)
	cfg := []string{"--archive", home}
	if r := conserva(t, append(cfg, "seal")...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	before := catalogRecords(t, home)
	live := filepath.Join(home, "catalog.db")
	if err := os.Rename(live, live+".old-20260101T000000Z"); err != nil {
		t.Fatal(err)
	}
	if r := conserva(t, append(cfg, "audit")...); r.code == 0 || !strings.Contains(r.stderr, "run conserva catalog rebuild") {
		t.Fatalf("audit without catalog.db: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r := conserva(t, append(cfg, "catalog", "rebuild", "--json", "--trust", set.TrustPEM)...)
	if r.code != 0 || !strings.Contains(r.stdout, `"carried_from":"`+live+`.old-20260101T000000Z"`) {
		t.Fatalf("rebuild: %d %s %s", r.code, r.stdout, r.stderr)
	}
	for id, rec := range catalogRecords(t, home) {
		if rec.Sources[0] != before[id].Sources[0] || !rec.IngestedAt.Equal(before[id].IngestedAt) {
			t.Fatalf("sources or ingestion time lost: %v %v, were %v %v", rec.Sources, rec.IngestedAt, before[id].Sources, before[id].IngestedAt)
		}
	}
	if rep, r := audit(t, home, "audit", "--trust", set.TrustPEM); r.code != 0 || rep.Catalogued != 5 {
		t.Fatalf("audit after the rebuild: %d %s", r.code, r.stdout)
	}
}
