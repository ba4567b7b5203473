package archive_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/ers"
	"github.com/conserva/conserva/internal/devpki"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/timestamp"
)

// countingDevTSA serves the development TSA over HTTP, counting requests
// and failing those for which fail(n) (n from 1) says so.
func countingDevTSA(t *testing.T, a *archive.Archive, fail func(n int64) bool) (string, *atomic.Int64) {
	t.Helper()
	k, err := devpki.LoadOrCreate(filepath.Join(a.Dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	h := (&timestamp.Dev{Cert: k.TSA.Cert, Key: k.TSA.Key, Chain: k.TSA.Chain}).Handler()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail != nil && fail(n.Add(1)) {
			http.Error(w, "down", 503)
			return
		}
		if fail == nil {
			n.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

func devTSAPool(t *testing.T, a *archive.Archive) *x509.CertPool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(a.Dir, "keys", "dev-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	for b, rest := pem.Decode(data); b != nil; b, rest = pem.Decode(rest) {
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		pool.AddCert(c)
	}
	return pool
}

// recordsOf checks that every catalogued message has a valid record in its
// package, against the development CA, and returns the record bytes.
func recordsOf(t *testing.T, a *archive.Archive) map[string][]byte {
	t.Helper()
	pool := devTSAPool(t, a)
	out := map[string][]byte{}
	a.Catalog.Scan(func(r *archive.Record) error {
		if r.Package == "" {
			t.Errorf("message %s not sealed", r.ID)
			return nil
		}
		rec, ok := record(t, a, r.Package, r.ID, 1)
		if !ok {
			t.Errorf("message %s: no record", r.ID)
			return nil
		}
		if _, err := ers.VerifyData(context.Background(), rec, readObject(t, a, r.Key), pool, time.Now()); err != nil {
			t.Errorf("message %s: %v", r.ID, err)
		}
		out[r.ID] = rec
		return nil
	})
	return out
}

// TestSealWritesEvidenceRecords: three packages sealed in one run share one
// archive timestamp (one TSA request more than the packages' own); every
// message and package file has a record that verifies against
// the pinned root, and not against another object.
func TestSealWritesEvidenceRecords(t *testing.T) {
	_, a := ingestSome(t, 5)
	a.Config.Seal.MaxMessages = 2
	url, n := countingDevTSA(t, a, nil)
	devCA := filepath.Join(a.Dir, "keys", "dev-ca.pem")
	pkgs, _, err := a.Seal(context.Background(), archive.SealOptions{TSAURL: url, Roots: archive.RootsOptions{TSA: devCA}})
	if err != nil {
		t.Fatal(err)
	}
	// Two requests per package, two for the ingest run's rapporto di
	// versamento (signed by this seal), one archive timestamp.
	// One probe for the TSA's certificate (validation data), two per
	// package, two for the rapporto di versamento, one archive timestamp.
	if len(pkgs) != 3 || n.Load() != 1+3*2+2+1 {
		t.Fatalf("%d packages, %d TSA requests (want 3 and 10)", len(pkgs), n.Load())
	}
	recs := recordsOf(t, a)
	if len(recs) != 5 {
		t.Fatalf("%d records", len(recs))
	}
	pool := devTSAPool(t, a)
	var tokens []string
	for _, p := range pkgs {
		dir := packageDir(a, p.ID)
		for _, name := range []string{"index.xml", "index.xml.p7s", "index.xml.p7s.tsr", "signer-chain.pem", "tsa-chain.pem", "metadata.tar"} {
			rec, ok := record(t, a, p.ID, name, 1)
			if !ok {
				t.Fatalf("%s: no record", name)
			}
			data, _ := os.ReadFile(filepath.Join(dir, name))
			if _, err := ers.VerifyData(context.Background(), rec, data, pool, time.Now()); err != nil {
				t.Errorf("%s/%s: %v", p.ID, name, err)
			}
			er, _ := ers.Parse(rec)
			tokens = append(tokens, string(er.Chains[0][0].TimeStamp))
		}
		// One segment holds them all, which tar unpacks.
		all, _ := filepath.Glob(filepath.Join(testutil.Unpack(t, dir), "ers", "*.ers"))
		if len(all) != p.Messages+6 {
			t.Errorf("%s: %d records for %d messages and 6 package files", p.ID, len(all), p.Messages)
		}
	}
	for _, tok := range tokens {
		if tok != tokens[0] {
			t.Fatal("the packages of one seal run do not share one archive timestamp")
		}
	}
	// A record proves its own object's bytes only.
	for id, rec := range recs {
		r, _ := a.Catalog.Get(id)
		data := readObject(t, a, r.Key)
		data[len(data)/2] ^= 1
		if _, err := ers.VerifyData(context.Background(), rec, data, pool, time.Now()); !errors.Is(err, ers.ErrNotCovered) {
			t.Fatalf("a flipped byte: %v", err)
		}
		break
	}
	// Nothing pending: no request, nothing written.
	before := n.Load()
	if _, _, err := a.Seal(context.Background(), archive.SealOptions{TSAURL: url, Roots: archive.RootsOptions{TSA: devCA}}); err != nil || n.Load() != before {
		t.Fatalf("second seal: %v, %d requests", err, n.Load()-before)
	}
}

// TestSealEvidenceResumes: when the archive timestamp cannot be had, the
// packages stay sealed and the next seal run, even with nothing pending,
// gives them their records with one request.
func TestSealEvidenceResumes(t *testing.T) {
	_, a := ingestSome(t, 3)
	var down atomic.Bool
	// Request 1: the probe for the TSA's certificate (validation data);
	// 2-3: the package; 4-5: the rapporto di versamento; 6: the archive
	// timestamp.
	url, n := countingDevTSA(t, a, func(n int64) bool { return down.Load() || n == 6 })
	devCA := filepath.Join(a.Dir, "keys", "dev-ca.pem")
	opts := archive.SealOptions{TSAURL: url, Roots: archive.RootsOptions{TSA: devCA}}
	pkgs, _, err := a.Seal(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "evidence records") || len(pkgs) != 1 {
		t.Fatalf("seal with the archive timestamp's request failing: %v %+v", err, pkgs)
	}
	if recs, _ := filepath.Glob(filepath.Join(packageDir(a, pkgs[0].ID), "ers", "*")); len(recs) != 0 {
		t.Fatalf("records without a timestamp: %v", recs)
	}
	again, _, err := a.Seal(context.Background(), opts)
	if err != nil || len(again) != 0 || n.Load() != 7 {
		t.Fatalf("resumed: %v %+v, %d requests", err, again, n.Load())
	}
	if len(recordsOf(t, a)) != 3 {
		t.Fatal("records missing")
	}
}
