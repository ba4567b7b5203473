package timestamp_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/notaryproject/tspclient-go"

	"github.com/conserva/conserva/internal/devpki"
	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/timestamp"
)

// A precomputed digest is stamped as it is (SHA-256 and SHA-512), the
// request names the algorithm without parameters and asks for the
// certificate with a nonce, and openssl accepts the token for that digest
// only.
func TestTimestampDigest(t *testing.T) {
	openssl := testutil.Tool(t, "openssl")
	dir := t.TempDir()
	keys, err := devpki.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	dev := &timestamp.Dev{Cert: keys.TSA.Cert, Key: keys.TSA.Key, Chain: keys.TSA.Chain}
	var mu sync.Mutex
	var requests [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		requests = append(requests, body)
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		dev.Handler().ServeHTTP(w, r)
	}))
	defer srv.Close()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pecgen.PEM(keys.CA), 0o644)

	s256 := sha256.Sum256([]byte("root of a hash tree"))
	s512 := sha512.Sum512([]byte("root of a hash tree"))
	for _, c := range []struct {
		h      crypto.Hash
		digest []byte
	}{{crypto.SHA256, s256[:]}, {crypto.SHA512, s512[:]}} {
		for name, auth := range map[string]timestamp.Authority{"in-process": dev, "http": timestamp.NewHTTP(srv.URL, "", "", nil, false)} {
			tok, err := auth.TimestampDigest(context.Background(), c.h, c.digest)
			if err != nil {
				t.Fatalf("%s %v: %v", name, c.h, err)
			}
			ct, err := tok.TimeStampToken()
			if err != nil {
				t.Fatal(err)
			}
			st, err := tspclient.ParseSignedToken(ct)
			if err != nil {
				t.Fatal(err)
			}
			info, _ := st.Info()
			if !bytes.Equal(info.MessageImprint.HashedMessage, c.digest) {
				t.Fatalf("%s %v: imprint %x", name, c.h, info.MessageImprint.HashedMessage)
			}
			tsr := filepath.Join(dir, "resp.tsr")
			os.WriteFile(tsr, tok.Response, 0o644)
			if out, err := exec.Command(openssl, "ts", "-verify", "-digest", hex.EncodeToString(c.digest), "-in", tsr, "-CAfile", ca).CombinedOutput(); err != nil {
				t.Fatalf("%s %v: openssl: %v\n%s", name, c.h, err, out)
			}
			other := bytes.Clone(c.digest)
			other[0] ^= 1
			if out, err := exec.Command(openssl, "ts", "-verify", "-digest", hex.EncodeToString(other), "-in", tsr, "-CAfile", ca).CombinedOutput(); err == nil {
				t.Fatalf("%s %v: openssl accepted another digest:\n%s", name, c.h, out)
			}
		}
	}
	if len(requests) != 2 {
		t.Fatalf("%d HTTP requests", len(requests))
	}
	for _, der := range requests {
		var req tspclient.Request
		if err := req.UnmarshalBinary(der); err != nil {
			t.Fatal(err)
		}
		if len(req.MessageImprint.HashAlgorithm.Parameters.FullBytes) != 0 || !req.CertReq || req.Nonce == nil {
			t.Fatalf("request: parameters %x, certReq %v, nonce %v", req.MessageImprint.HashAlgorithm.Parameters.FullBytes, req.CertReq, req.Nonce)
		}
	}

	if _, err := dev.TimestampDigest(context.Background(), crypto.SHA256, s512[:]); err == nil {
		t.Fatal("a SHA-512 digest stamped as SHA-256")
	}
	if _, err := dev.TimestampDigest(context.Background(), crypto.SHA1, make([]byte, 20)); err == nil {
		t.Fatal("SHA-1 accepted")
	}
}

// A TSA that stamps something else than what was asked is refused.
func TestTimestampDigestRefusesAnotherImprint(t *testing.T) {
	keys, err := devpki.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dev := &timestamp.Dev{Cert: keys.TSA.Cert, Key: keys.TSA.Key, Chain: keys.TSA.Chain}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req tspclient.Request
		if err := req.UnmarshalBinary(body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req.MessageImprint.HashedMessage[0] ^= 1
		forged, _ := req.MarshalBinary()
		resp, err := dev.Respond(forged)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Write(resp)
	}))
	defer srv.Close()
	sum := sha256.Sum256([]byte("root"))
	if _, err := timestamp.NewHTTP(srv.URL, "", "", nil, false).TimestampDigest(context.Background(), crypto.SHA256, sum[:]); err == nil {
		t.Fatal("a token for another imprint was accepted")
	}
}
