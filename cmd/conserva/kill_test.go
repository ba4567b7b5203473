package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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
