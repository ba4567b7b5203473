package validation_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/conserva/conserva/internal/testpki"
	"github.com/conserva/conserva/validation"
)

// ocspServer answers every request with what answer makes of it.
func ocspServer(t *testing.T, answer func(serial *ocsp.Request) ([]byte, error)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := ocsp.ParseRequest(body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		resp, err := answer(req)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestReplayedOCSPAnswer: a hostile network replays a "good" answer the CA
// signed weeks ago, before it revoked the certificate. Its nextUpdate is
// long past: it says nothing about now, so it neither passes the seal nor
// covers the certificate when audit judges it.
func TestReplayedOCSPAnswer(t *testing.T) {
	ca := testpki.Root(t, "Test CA", testpki.Options{})
	url := ocspServer(t, func(req *ocsp.Request) ([]byte, error) {
		return ocsp.CreateResponse(ca.Cert, ca.Cert, ocsp.Response{Status: ocsp.Good, SerialNumber: req.SerialNumber,
			ThisUpdate: time.Now().AddDate(0, 0, -30), NextUpdate: time.Now().AddDate(0, 0, -23)}, ca.Key)
	})
	leaf := ca.Issue(t, "Test TSA", testpki.Options{OCSP: []string{url}})
	b, missing := validation.Collect(context.Background(), validation.NewHTTP(), leaf.Chain, time.Now())
	if len(missing) != 1 {
		t.Errorf("a stale OCSP answer was taken at seal: missing %v, %d answers kept", missing, len(b.OCSP))
	}
	// Kept anyway (as a forger would put it in the store): not coverage now.
	b, _ = validation.Collect(context.Background(), &validation.Local{Next: validation.NewHTTP()}, leaf.Chain, time.Now().AddDate(0, 0, -25))
	if f := validation.Check(b, leaf.Chain, time.Now()); len(f) != 1 {
		t.Errorf("a stale OCSP answer covers the certificate now: %v", f)
	}
}

// TestOCSPAnswerFromAnotherLeaf: an answer signed by another certificate of
// the same CA (anyone holding one of its leaves), which the CA never
// delegated OCSP signing to (no id-kp-OCSPSigning), says nothing.
func TestOCSPAnswerFromAnotherLeaf(t *testing.T) {
	ca := testpki.Root(t, "Test CA", testpki.Options{})
	mallory := ca.Issue(t, "Mallory", testpki.Options{})
	url := ocspServer(t, func(req *ocsp.Request) ([]byte, error) {
		return ocsp.CreateResponse(ca.Cert, mallory.Cert, ocsp.Response{Status: ocsp.Good, SerialNumber: req.SerialNumber,
			ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour), Certificate: mallory.Cert}, mallory.Key)
	})
	leaf := ca.Issue(t, "Test TSA", testpki.Options{OCSP: []string{url}})
	b, missing := validation.Collect(context.Background(), validation.NewHTTP(), leaf.Chain, time.Now())
	if len(missing) != 1 || len(b.OCSP) != 0 {
		t.Errorf("an answer signed by another leaf of the CA was taken: missing %v, %d answers kept", missing, len(b.OCSP))
	}
}

// TestDeltaCRLServedAsFull: a hostile distribution point serves the CA's
// delta CRL (signed by it, listing only the latest revocations) in place
// of its full CRL. A delta CRL is not complete revocation information
// (RFC 5280 §5.2.4): it neither passes the seal nor covers at audit.
func TestDeltaCRLServedAsFull(t *testing.T) {
	ca := testpki.Root(t, "Test CA", testpki.Options{})
	delta, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(7),
		ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(24 * time.Hour),
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 27}, Critical: true, Value: []byte{2, 1, 6}}},
	}, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	var body atomic.Pointer[[]byte]
	body.Store(&delta)
	url := crlServer(t, &body)
	leaf := ca.Issue(t, "Test TSA", testpki.Options{CRL: []string{url}})
	b, missing := validation.Collect(context.Background(), validation.NewHTTP(), leaf.Chain, time.Now())
	if len(missing) != 1 {
		t.Errorf("a delta CRL was taken as the full CRL: missing %v", missing)
	}
	b.CRLs = [][]byte{delta}
	if f := validation.Check(b, leaf.Chain, time.Now()); len(f) != 1 {
		t.Errorf("a delta CRL covers the certificate: %v", f)
	}
}

// TestRedirectElsewhere: a distribution point redirecting the fetch to an
// https:// (or any other) URL is not followed: only http:// is fetched,
// and a few hops at most.
func TestRedirectElsewhere(t *testing.T) {
	hops := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/tls":
			http.Redirect(w, r, "https://127.0.0.1:1/crl", http.StatusFound)
		default:
			hops++
			http.Redirect(w, r, "/loop", http.StatusFound)
		}
	}))
	defer srv.Close()
	h := validation.NewHTTP()
	if _, err := h.Get(context.Background(), srv.URL+"/tls"); err == nil || !strings.Contains(err.Error(), "only http://") {
		t.Errorf("a redirect to https: %v", err)
	}
	if _, err := h.Get(context.Background(), srv.URL+"/loop"); err == nil || hops > 4 {
		t.Errorf("redirects followed: %d, %v", hops, err)
	}
}
