package timestamp_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/internal/devpki"
	"github.com/conserva/conserva/internal/testpki"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/timestamp"
	"github.com/notaryproject/tspclient-go"
	"github.com/notaryproject/tspclient-go/pki"
)

// respond asks dev for a token over content without the checks of
// Dev.Timestamp, as a TSA nobody vouches for would answer.
func respond(t *testing.T, dev *timestamp.Dev, content []byte) []byte {
	t.Helper()
	req, err := tspclient.NewRequest(tspclient.RequestOptions{Content: content, HashAlgorithm: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	der, err := req.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := dev.Respond(der)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func refused(t *testing.T, what string, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: accepted", what)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("%s: error %q does not say %q", what, err, want)
	}
	t.Logf("%s: %v", what, err)
}

func devOf(id *testpki.Identity) *timestamp.Dev {
	return &timestamp.Dev{Cert: id.Cert, Key: id.Key, Chain: id.Chain}
}

func TestVerifyAgainstPinnedRoots(t *testing.T) {
	ctx := context.Background()
	keys, err := devpki.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	devRoots := x509.NewCertPool()
	devRoots.AddCert(keys.CA)
	rsaRoot := testpki.Root(t, "Test TSA Root", testpki.Options{RSA: true})
	rsaTSA := rsaRoot.Issue(t, "Test TSA", testpki.Options{RSA: true, TimeStamping: true})
	cases := map[string]struct {
		dev   *timestamp.Dev
		root  *x509.Certificate
		roots *x509.CertPool
	}{
		"ecdsa-dev": {&timestamp.Dev{Cert: keys.TSA.Cert, Key: keys.TSA.Key, Chain: keys.TSA.Chain}, keys.CA, devRoots},
		"rsa":       {devOf(rsaTSA), rsaRoot.Cert, rsaRoot.Pool()},
	}
	content := []byte("index.xml.p7s bytes")
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			tok, err := c.dev.Timestamp(ctx, content)
			if err != nil {
				t.Fatal(err)
			}
			if len(tok.TokenDER) == 0 || !bytes.Contains(tok.Response, tok.TokenDER) {
				t.Fatal("TokenDER is not the token inside Response")
			}
			v, err := timestamp.VerifyResponse(ctx, tok.Response, content, c.roots)
			if err != nil {
				t.Fatal(err)
			}
			if !v.Time.Equal(tok.Time) || !v.TSA.Equal(c.dev.Cert) || len(v.Chain) != 2 || !v.Chain[1].Equal(c.root) || !v.Policy.Equal(timestamp.DevPolicy) {
				t.Fatalf("verified %+v", v)
			}
			if _, err := timestamp.VerifyToken(ctx, tok.TokenDER, content, c.roots); err != nil {
				t.Fatal(err)
			}

			_, err = timestamp.VerifyResponse(ctx, tok.Response, []byte("other bytes"), c.roots)
			refused(t, "other content", err, "not over the given content")
			_, err = timestamp.VerifyResponse(ctx, tok.Response, content, nil)
			refused(t, "nil roots", err, "no TSA roots")
			_, err = timestamp.VerifyToken(ctx, tok.TokenDER, content, x509.NewCertPool())
			refused(t, "empty roots", err, "no TSA roots")
			_, err = timestamp.VerifyResponse(ctx, append(bytes.Clone(tok.Response), 0), content, c.roots)
			refused(t, "trailing byte", err, "trailing data")
			// The last bytes of the token are its signature value.
			_, err = timestamp.VerifyResponse(ctx, flipAt(tok.Response, len(tok.Response)-10), content, c.roots)
			refused(t, "flipped signature", err, "timestamp token rejected")
			imprint := sha256.Sum256(content)
			_, err = timestamp.VerifyResponse(ctx, flipAt(tok.Response, bytes.Index(tok.Response, imprint[:])+3), content, c.roots)
			refused(t, "flipped imprint", err, "timestamp token rejected")

			// A look-alike TSA whose self-made root travels inside the token:
			// the token's certificates are never anchors.
			fakeRoot := testpki.Root(t, c.root.Subject.CommonName, testpki.Options{RSA: name == "rsa"})
			fake := fakeRoot.Issue(t, c.dev.Cert.Subject.CommonName, testpki.Options{RSA: name == "rsa", TimeStamping: true})
			forged := respond(t, devOf(fake), content)
			if !bytes.Contains(forged, fakeRoot.Cert.Raw) {
				t.Fatal("the forged token does not ship its root")
			}
			_, err = timestamp.VerifyResponse(ctx, forged, content, c.roots)
			refused(t, "self-made TSA", err, "TSA not under the configured TSA roots")
		})
	}

	// Independent check: openssl verifies the RSA TSA's answer with its root.
	openssl := testutil.Tool(t, "openssl")
	dir := t.TempDir()
	tok, err := devOf(rsaTSA).Timestamp(ctx, content)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "data"), content, 0o644)
	os.WriteFile(filepath.Join(dir, "rsa.tsr"), tok.Response, 0o644)
	os.WriteFile(filepath.Join(dir, "root.pem"), testpki.PEM(rsaRoot.Cert), 0o644)
	cmd := exec.Command(openssl, "ts", "-verify", "-data", "data", "-in", "rsa.tsr", "-CAfile", "root.pem")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl ts -verify (RSA TSA): %v\n%s", err, out)
	}
}

func flipAt(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 0x01
	return out
}

func TestVerifyRefusesTSAWithoutCriticalEKU(t *testing.T) {
	ctx := context.Background()
	root := testpki.Root(t, "TSA Root", testpki.Options{})
	content := []byte("signature value")
	for name, opts := range map[string]testpki.Options{
		"non-critical EKU": {TimeStamping: true, NonCritical: true},
		"no EKU":           {},
	} {
		resp := respond(t, devOf(root.Issue(t, "TSA", opts)), content)
		_, err := timestamp.VerifyResponse(ctx, resp, content, root.Pool())
		refused(t, name, err, "extended key usage")
	}
	resp := respond(t, devOf(root.Issue(t, "TSA", testpki.Options{TimeStamping: true})), content)
	if _, err := timestamp.VerifyResponse(ctx, resp, content, root.Pool()); err != nil {
		t.Fatalf("critical EKU: %v", err)
	}
}

func TestVerifyJudgesTheTSAAtGenTime(t *testing.T) {
	ctx := context.Background()
	root := testpki.Root(t, "TSA Root", testpki.Options{})
	tsa := devOf(root.Issue(t, "TSA", testpki.Options{TimeStamping: true, NotAfter: time.Now().Add(time.Hour)}))
	content := []byte("signature value")
	tsa.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	_, err := timestamp.VerifyResponse(ctx, respond(t, tsa, content), content, root.Pool())
	refused(t, "TSA expired at genTime", err, "TSA certificate not valid at the token's time")
	tsa.Now = nil
	if _, err := timestamp.VerifyResponse(ctx, respond(t, tsa, content), content, root.Pool()); err != nil {
		t.Fatalf("TSA valid at genTime: %v", err)
	}
}

func TestVerifyRefusesARejection(t *testing.T) {
	der, err := asn1.Marshal(tspclient.Response{Status: pki.StatusInfo{Status: pki.StatusRejection}})
	if err != nil {
		t.Fatal(err)
	}
	root := testpki.Root(t, "TSA Root", testpki.Options{})
	_, err = timestamp.VerifyResponse(context.Background(), der, []byte("x"), root.Pool())
	refused(t, "rejection", err, "did not grant")
	_, err = timestamp.VerifyResponse(context.Background(), []byte("not DER"), []byte("x"), root.Pool())
	refused(t, "garbage", err, "timestamp response")
}
