package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/conserva/conserva/internal/testpki"
	"github.com/conserva/conserva/timestamp"
)

// TestTSAWithTwoUnitsRevokedOne: a TSA service answering with more than
// one certificate (several timestamping units behind one URL, or a
// hostile one relaying the probe to a good unit) stamps the probe with a
// unit in good standing and the package with a revoked one. The seal must
// judge the chain that actually stamped the package.
func TestTSAWithTwoUnitsRevokedOne(t *testing.T) {
	ca := newRevokingCA(t)
	tmp := t.TempDir()
	caPEM := filepath.Join(tmp, "ca.pem")
	os.WriteFile(caPEM, testpki.PEM(ca.Cert), 0o644)
	good := ca.Issue(t, "TSU buona", testpki.Options{TimeStamping: true, CRL: []string{ca.url}})
	bad := ca.Issue(t, "TSU revocata", testpki.Options{TimeStamping: true, CRL: []string{ca.url}})
	ca.revoked = append(ca.revoked, bad.Cert)
	units := []http.Handler{(&timestamp.Dev{Cert: good.Cert, Key: good.Key, Chain: good.Chain}).Handler(),
		(&timestamp.Dev{Cert: bad.Cert, Key: bad.Key, Chain: bad.Chain}).Handler()}
	// The probe is request 0, then the signature's timestamp, the
	// signature file's timestamp and the evidence records' archive
	// timestamp: the revoked unit answers from each of them on.
	for _, from := range []int64{1, 2, 3} {
		var n atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			unit := units[0]
			if n.Add(1)-1 >= from {
				unit = units[1]
			}
			unit.ServeHTTP(w, r)
		}))
		home := filepath.Join(t.TempDir(), "archive")
		ingestFixtures(t, home, 2)
		r := conserva(t, "--archive", home, "seal", "--tsa-url", srv.URL, "--tsa-roots", caPEM)
		srv.Close()
		if r.code == 0 {
			t.Errorf("stamp %d on by a revoked unit: sealed: %s %s", from, r.stdout, r.stderr)
			continue
		}
		if !strings.Contains(r.stderr, `"TSU revocata"`) || !strings.Contains(r.stderr, "revoked at") {
			t.Errorf("stamp %d on by a revoked unit: refused without naming it: %d %q", from, r.code, r.stderr)
		}
	}
}
