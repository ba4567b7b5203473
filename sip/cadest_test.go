package sip_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/internal/devpki"
	"github.com/conserva/conserva/internal/testpki"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/sip"
	"github.com/conserva/conserva/timestamp"
	"github.com/notaryproject/tspclient-go"
	"github.com/smallstep/pkcs7"
)

// trust is a signer and a TSA with the roots an archive would pin.
type trust struct {
	signer                *sip.Signer
	tsa                   *timestamp.Dev
	signerRoot, tsaRoot   *x509.Certificate
	signerRoots, tsaRoots *x509.CertPool
}

func pool(c *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c)
	return p
}

// devTrust is the development hierarchy: ECDSA P-256, one CA for both.
func devTrust(t testing.TB) trust {
	t.Helper()
	keys, err := devpki.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return trust{
		signer:     &sip.Signer{Cert: keys.Signer.Cert, Key: keys.Signer.Key, Chain: keys.Signer.Chain},
		tsa:        &timestamp.Dev{Cert: keys.TSA.Cert, Key: keys.TSA.Key, Chain: keys.TSA.Chain},
		signerRoot: keys.CA, tsaRoot: keys.CA, signerRoots: pool(keys.CA), tsaRoots: pool(keys.CA),
	}
}

// rsaTrust is an RSA-2048 signer and an RSA TSA under two separate roots,
// with an intermediate CA on the signer's side.
func rsaTrust(t *testing.T, signerOpts testpki.Options) trust {
	t.Helper()
	sroot := testpki.Root(t, "Test Qualified CA", testpki.Options{RSA: true})
	signerOpts.RSA = true
	sub := sroot.Issue(t, "Test Qualified CA - signing", testpki.Options{RSA: true, CA: true})
	signer := sub.Issue(t, "Responsabile della conservazione", signerOpts)
	troot := testpki.Root(t, "Test TSA Root", testpki.Options{RSA: true})
	tsa := troot.Issue(t, "Test TSA", testpki.Options{RSA: true, TimeStamping: true})
	return trust{
		signer:     &sip.Signer{Cert: signer.Cert, Key: signer.Key, Chain: signer.Chain},
		tsa:        &timestamp.Dev{Cert: tsa.Cert, Key: tsa.Key, Chain: tsa.Chain},
		signerRoot: sroot.Cert, tsaRoot: troot.Cert, signerRoots: sroot.Pool(), tsaRoots: troot.Pool(),
	}
}

// forger is a TSA run by an attacker, or one whose answer nobody checks:
// whatever it signs is embedded as is. over, when set, replaces what it is
// asked to stamp.
type forger struct {
	dev  *timestamp.Dev
	over []byte
}

func (f forger) Name() string { return "forger" }

func (f forger) TimestampDigest(ctx context.Context, h crypto.Hash, d []byte) (timestamp.Token, error) {
	return f.dev.TimestampDigest(ctx, h, d)
}

func (f forger) Timestamp(_ context.Context, content []byte) (timestamp.Token, error) {
	if f.over != nil {
		content = f.over
	}
	req, err := tspclient.NewRequest(tspclient.RequestOptions{Content: content, HashAlgorithm: crypto.SHA256})
	if err != nil {
		return timestamp.Token{}, err
	}
	der, err := req.MarshalBinary()
	if err != nil {
		return timestamp.Token{}, err
	}
	resp, err := f.dev.Respond(der)
	if err != nil {
		return timestamp.Token{}, err
	}
	return timestamp.Parse(resp)
}

// signatureValue is the SignerInfo's signature octets, read with
// smallstep/pkcs7 (not with the code under test).
func signatureValue(t *testing.T, p7s []byte) []byte {
	t.Helper()
	p7, err := pkcs7.Parse(p7s)
	if err != nil || len(p7.Signers) != 1 {
		t.Fatalf("parse p7s: %v", err)
	}
	return p7.Signers[0].EncryptedDigest
}

func flip(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 0x01
	return out
}

func mustFail(t *testing.T, what string, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: accepted", what)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("%s: error %q does not say %q", what, err, want)
	}
	t.Logf("%s: %v", what, err)
}

var content = []byte("<?xml version=\"1.0\"?>\n<index/>\n")

func TestSignTVerifiesWithPinnedRoots(t *testing.T) {
	ctx := context.Background()
	for name, tr := range map[string]trust{"ecdsa-dev": devTrust(t), "rsa": rsaTrust(t, testpki.Options{})} {
		t.Run(name, func(t *testing.T) {
			p7s, tok, err := tr.signer.SignT(ctx, content, tr.tsa)
			if err != nil {
				t.Fatal(err)
			}
			v, err := sip.VerifyCAdES(ctx, p7s, content, tr.signerRoots, tr.tsaRoots)
			if err != nil {
				t.Fatal(err)
			}
			if !v.Signer.Equal(tr.signer.Cert) || !v.Chain[len(v.Chain)-1].Equal(tr.signerRoot) || v.SigningTime.IsZero() {
				t.Fatalf("signer %v chain %d signing time %v", v.Signer.Subject, len(v.Chain), v.SigningTime)
			}
			ts := v.Timestamp
			if ts == nil || !ts.Time.Equal(tok.Time) || !ts.TSA.Equal(tr.tsa.Cert) || !ts.Chain[len(ts.Chain)-1].Equal(tr.tsaRoot) || !ts.Policy.Equal(timestamp.DevPolicy) {
				t.Fatalf("timestamp %+v", ts)
			}
			// The token embedded is the one returned, over the signature value.
			if !bytes.Contains(p7s, tok.TokenDER) {
				t.Fatal("the returned token is not the embedded one")
			}
			if _, err := timestamp.VerifyToken(ctx, tok.TokenDER, signatureValue(t, p7s), tr.tsaRoots); err != nil {
				t.Fatalf("token over the signature value: %v", err)
			}
		})
	}
}

func TestCAdESBESVerifiesWithoutTimestamp(t *testing.T) {
	tr := devTrust(t)
	p7s, err := tr.signer.Sign(content)
	if err != nil {
		t.Fatal(err)
	}
	v, err := sip.VerifyCAdES(context.Background(), p7s, content, tr.signerRoots, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A BES signature (or a CAdES-T one whose unsigned token was stripped)
	// verifies with no timestamp: callers expecting CAdES-T check for it.
	if v.Timestamp != nil || v.SigningTime.IsZero() {
		t.Fatalf("BES: %+v", v)
	}
}

func TestVerifyCAdESRefusesForgeries(t *testing.T) {
	ctx := context.Background()
	tr := rsaTrust(t, testpki.Options{})
	p7s, tok, err := tr.signer.SignT(ctx, content, tr.tsa)
	if err != nil {
		t.Fatal(err)
	}
	verify := func(p7s, content []byte) error {
		_, err := sip.VerifyCAdES(ctx, p7s, content, tr.signerRoots, tr.tsaRoots)
		return err
	}

	// Forgery C of issue 11: a look-alike conservator, its chain shipped
	// inside the p7s, timestamped by the genuine TSA.
	fakeRoot := testpki.Root(t, "Test Qualified CA", testpki.Options{RSA: true})
	fake := fakeRoot.Issue(t, "Responsabile della conservazione", testpki.Options{RSA: true})
	forged, _, err := (&sip.Signer{Cert: fake.Cert, Key: fake.Key, Chain: fake.Chain}).SignT(ctx, content, tr.tsa)
	if err != nil {
		t.Fatal(err)
	}
	mustFail(t, "self-made signer", verify(forged, content), "signer not issued under the configured signer roots")

	// The genuine signer, timestamped by a self-made TSA shipping its chain.
	fakeTSARoot := testpki.Root(t, "Test TSA Root", testpki.Options{RSA: true})
	fakeTSA := fakeTSARoot.Issue(t, "Test TSA", testpki.Options{RSA: true, TimeStamping: true})
	forged, _, err = tr.signer.SignT(ctx, content, forger{dev: &timestamp.Dev{Cert: fakeTSA.Cert, Key: fakeTSA.Key, Chain: fakeTSA.Chain}})
	if err != nil {
		t.Fatal(err)
	}
	mustFail(t, "self-made TSA", verify(forged, content), "signature timestamp: TSA not under the configured TSA roots")

	// A genuine token, but over other bytes than this signature's value.
	forged, _, err = tr.signer.SignT(ctx, content, forger{over: []byte("another signature"), dev: tr.tsa})
	if err != nil {
		t.Fatal(err)
	}
	mustFail(t, "genuine token over other bytes", verify(forged, content), "signature timestamp: timestamp token: not over the given content")

	// Roots swapped: the signer's root does not vouch for the TSA and back.
	if _, err := sip.VerifyCAdES(ctx, p7s, content, tr.tsaRoots, tr.signerRoots); err == nil {
		t.Fatal("roots swapped: accepted")
	}
	_, err = sip.VerifyCAdES(ctx, p7s, content, nil, tr.tsaRoots)
	mustFail(t, "nil signer roots", err, "no signer roots")
	_, err = sip.VerifyCAdES(ctx, p7s, content, x509.NewCertPool(), tr.tsaRoots)
	mustFail(t, "empty signer roots", err, "no signer roots")
	_, err = sip.VerifyCAdES(ctx, p7s, content, tr.signerRoots, nil)
	mustFail(t, "nil TSA roots", err, "no TSA roots")

	// Damage, one byte at a time.
	mustFail(t, "content", verify(p7s, flip(content, 3)), "signature does not match content")
	sig := signatureValue(t, p7s)
	at := bytes.Index(p7s, sig)
	mustFail(t, "signature value", verify(flip(p7s, at+len(sig)/2), content), "signature value invalid")
	tokAt := bytes.Index(p7s, tok.TokenDER)
	imprint := sha256.Sum256(sig)
	impAt := bytes.Index(p7s, imprint[:])
	if tokAt < 0 || impAt < tokAt {
		t.Fatal("token or imprint not found in the p7s")
	}
	mustFail(t, "token imprint", verify(flip(p7s, impAt+5), content), "signature timestamp:")
	mustFail(t, "token signature", verify(flip(p7s, tokAt+len(tok.TokenDER)-10), content), "signature timestamp:")
	if err := verify(p7s, content); err != nil {
		t.Fatalf("the genuine signature after the forgeries: %v", err)
	}
}

func TestVerifyCAdESRefusesTSAWithoutCriticalEKU(t *testing.T) {
	ctx := context.Background()
	signerRoot := testpki.Root(t, "Signer Root", testpki.Options{})
	signer := signerRoot.Issue(t, "Responsabile della conservazione", testpki.Options{})
	s := &sip.Signer{Cert: signer.Cert, Key: signer.Key, Chain: signer.Chain}
	tsaRoot := testpki.Root(t, "TSA Root", testpki.Options{})
	for name, opts := range map[string]testpki.Options{
		"non-critical EKU": {TimeStamping: true, NonCritical: true},
		"no EKU":           {},
	} {
		tsa := tsaRoot.Issue(t, "TSA "+name, opts)
		p7s, _, err := s.SignT(ctx, content, forger{dev: &timestamp.Dev{Cert: tsa.Cert, Key: tsa.Key, Chain: tsa.Chain}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = sip.VerifyCAdES(ctx, p7s, content, signerRoot.Pool(), tsaRoot.Pool())
		mustFail(t, name, err, "extended key usage")
	}
	// The same TSA with the critical EKU passes: the EKU is what failed.
	good := tsaRoot.Issue(t, "TSA", testpki.Options{TimeStamping: true})
	p7s, _, err := s.SignT(ctx, content, forger{dev: &timestamp.Dev{Cert: good.Cert, Key: good.Key, Chain: good.Chain}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sip.VerifyCAdES(ctx, p7s, content, signerRoot.Pool(), tsaRoot.Pool()); err != nil {
		t.Fatal(err)
	}
}

func TestSignerJudgedAtTheTimestampsTime(t *testing.T) {
	ctx := context.Background()
	// The signer certificate ends in an hour (signingTime, now, is inside).
	tr := rsaTrust(t, testpki.Options{NotAfter: time.Now().Add(time.Hour)})
	at := func(d time.Duration) []byte {
		tr.tsa.Now = func() time.Time { return time.Now().Add(d) }
		p7s, _, err := tr.signer.SignT(ctx, content, tr.tsa)
		if err != nil {
			t.Fatal(err)
		}
		return p7s
	}
	_, err := sip.VerifyCAdES(ctx, at(2*time.Hour), content, tr.signerRoots, tr.tsaRoots)
	mustFail(t, "expired at the timestamp's time", err, "signer certificate not valid")
	if _, err := sip.VerifyCAdES(ctx, at(0), content, tr.signerRoots, tr.tsaRoots); err != nil {
		t.Fatalf("valid at the timestamp's time: %v", err)
	}
}

func TestCheckSigner(t *testing.T) {
	tr := rsaTrust(t, testpki.Options{NotAfter: time.Now().Add(time.Hour)})
	now := time.Now()
	if err := tr.signer.CheckSigner(tr.signerRoots, now); err != nil {
		t.Fatal(err)
	}
	mustFail(t, "other roots", tr.signer.CheckSigner(tr.tsaRoots, now), "signer not issued under the configured signer roots")
	mustFail(t, "expired", tr.signer.CheckSigner(tr.signerRoots, now.Add(2*time.Hour)), "signer certificate not valid")
	mustFail(t, "no roots", tr.signer.CheckSigner(nil, now), "no signer roots")
	other := rsaTrust(t, testpki.Options{})
	mismatched := &sip.Signer{Cert: tr.signer.Cert, Key: other.signer.Key, Chain: tr.signer.Chain}
	mustFail(t, "key of another certificate", mismatched.CheckSigner(tr.signerRoots, now), "key does not belong")
}

// TestCAdESTIndependentVerifiers has openssl and Bouncy Castle verify what
// SignT makes, and refuse forgeries.
func TestCAdESTIndependentVerifiers(t *testing.T) {
	ctx := context.Background()
	for name, tr := range map[string]trust{"ecdsa-dev": devTrust(t), "rsa": rsaTrust(t, testpki.Options{})} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			p7s, tok, err := tr.signer.SignT(ctx, content, tr.tsa)
			if err != nil {
				t.Fatal(err)
			}
			write := func(name string, b []byte) string {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
				return p
			}
			write("index.xml", content)
			write("index.xml.p7s", p7s)
			write("signer-root.pem", testpki.PEM(tr.signerRoot))
			write("tsa-root.pem", testpki.PEM(tr.tsaRoot))
			write("signer.pem", testpki.PEM(tr.signer.Cert))
			write("tsa.pem", testpki.PEM(tr.tsa.Cert))

			// openssl: the CMS signature against the signer root only.
			cmsVerify := func(p7s string) (string, error) {
				return opensslIn(t, dir, "cms", "-verify", "-binary", "-inform", "DER", "-in", p7s, "-content", "index.xml",
					"-CAfile", "signer-root.pem", "-purpose", "any", "-out", os.DevNull)
			}
			if out, err := cmsVerify("index.xml.p7s"); err != nil {
				t.Fatalf("openssl cms -verify: %v\n%s", err, out)
			}
			out, err := opensslIn(t, dir, "cms", "-cmsout", "-print", "-inform", "DER", "-in", "index.xml.p7s")
			if err != nil || !strings.Contains(out, "unsignedAttrs") || !strings.Contains(out, "id-smime-aa-timeStampToken") {
				t.Fatalf("cmsout shows no signature timestamp: %v\n%s", err, out)
			}

			// openssl: the embedded token, over SHA-256 of the signature value.
			sig := signatureValue(t, p7s)
			embedded := embeddedToken(t, p7s, tok.TokenDER)
			write("token.der", embedded)
			sum := sha256.Sum256(sig)
			tsVerify := func(digest string) (string, error) {
				return opensslIn(t, dir, "ts", "-verify", "-token_in", "-in", "token.der", "-digest", digest, "-CAfile", "tsa-root.pem")
			}
			if out, err := tsVerify(hex.EncodeToString(sum[:])); err != nil {
				t.Fatalf("openssl ts -verify of the embedded token: %v\n%s", err, out)
			}
			whole := sha256.Sum256(p7s)
			if out, err := tsVerify(hex.EncodeToString(whole[:])); err == nil {
				t.Fatalf("openssl: the embedded token also covers the whole p7s?\n%s", out)
			}

			// openssl alone (the recipe VERIFY.txt can use): extract the
			// token and the signature value from the p7s, ts -verify.
			script, err := filepath.Abs("testdata/verify-signature-timestamp.sh")
			if err != nil {
				t.Fatal(err)
			}
			recipe := func(p7s string) (string, error) {
				cmd := exec.Command(testutil.Tool(t, "sh"), script, p7s, "tsa-root.pem")
				cmd.Dir = dir
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			if out, err := recipe("index.xml.p7s"); err != nil || !strings.Contains(out, "Verification: OK") {
				t.Fatalf("verify-signature-timestamp.sh: %v\n%s", err, out)
			}
			if got, err := os.ReadFile(filepath.Join(dir, "sigvalue.bin")); err != nil || !bytes.Equal(got, sig) {
				t.Fatalf("the script's signature value differs: %v", err)
			}

			// Bouncy Castle: the genuine signature alone, then every forgery
			// in one JVM, each refused for its own reason.
			bc := func(cases ...string) (string, error) {
				var args []string
				for _, c := range cases {
					f := strings.Fields(c)
					args = append(args, filepath.Join(dir, f[0]), filepath.Join(dir, f[1]), filepath.Join(dir, "signer.pem"), filepath.Join(dir, "tsa.pem"))
				}
				return testutil.Java(t, "testdata/VerifyCAdEST.java", args...)
			}
			if out, err := bc("index.xml.p7s index.xml"); err != nil || !strings.HasPrefix(out, "case 0: OK") {
				t.Fatalf("Bouncy Castle: %v\n%s", err, out)
			}

			write("altered.xml", flip(content, 3))
			fakeRoot := testpki.Root(t, tr.signerRoot.Subject.CommonName, testpki.Options{})
			fake := fakeRoot.Issue(t, tr.signer.Cert.Subject.CommonName, testpki.Options{})
			forged, _, err := (&sip.Signer{Cert: fake.Cert, Key: fake.Key, Chain: fake.Chain}).SignT(ctx, content, tr.tsa)
			if err != nil {
				t.Fatal(err)
			}
			write("forged-signer.p7s", forged)
			if out, err := cmsVerify("forged-signer.p7s"); err == nil {
				t.Fatalf("openssl accepted a self-made signer:\n%s", out)
			}
			fakeTSA := fakeRoot.Issue(t, tr.tsa.Cert.Subject.CommonName, testpki.Options{TimeStamping: true})
			forged, _, err = tr.signer.SignT(ctx, content, forger{dev: &timestamp.Dev{Cert: fakeTSA.Cert, Key: fakeTSA.Key, Chain: fakeTSA.Chain}})
			if err != nil {
				t.Fatal(err)
			}
			write("forged-tsa.p7s", forged)
			forged, _, err = tr.signer.SignT(ctx, content, forger{dev: tr.tsa, over: []byte("another signature")})
			if err != nil {
				t.Fatal(err)
			}
			write("other-imprint.p7s", forged)
			bes, err := tr.signer.Sign(content)
			if err != nil {
				t.Fatal(err)
			}
			write("bes.p7s", bes)
			tokAt := bytes.Index(p7s, tok.TokenDER)
			write("flipped-token.p7s", flip(p7s, tokAt+len(tok.TokenDER)-10))

			for _, f := range []string{"forged-tsa.p7s", "other-imprint.p7s", "bes.p7s", "flipped-token.p7s"} {
				if out, err := recipe(f); err == nil {
					t.Fatalf("verify-signature-timestamp.sh accepted %s:\n%s", f, out)
				}
			}

			out, err = bc("index.xml.p7s altered.xml", "forged-signer.p7s index.xml", "forged-tsa.p7s index.xml",
				"other-imprint.p7s index.xml", "bes.p7s index.xml", "flipped-token.p7s index.xml")
			if err == nil {
				t.Fatalf("Bouncy Castle accepted forgeries:\n%s", out)
			}
			for i, want := range []string{
				"signature does not match content", "does not name the given signer", "timestamp token invalid",
				"imprint is not SHA-256 of the signature value", "no signatureTimeStampToken", "timestamp token invalid",
			} {
				prefix := fmt.Sprintf("case %d: ", i)
				j := strings.Index(out, prefix)
				line, _, _ := strings.Cut(out[max(j, 0):], "\n")
				if j < 0 || !strings.Contains(line, want) {
					t.Fatalf("Bouncy Castle case %d: want %q:\n%s", i, want, out)
				}
			}
			t.Logf("Bouncy Castle:\n%s", out)
		})
	}
}

// embeddedToken finds the token SignT returned inside the p7s, as the value
// of the id-aa-signatureTimeStampToken attribute, and returns those bytes
// of the p7s.
func embeddedToken(t *testing.T, p7s, want []byte) []byte {
	t.Helper()
	at := bytes.Index(p7s, want)
	if at < 0 {
		t.Fatal("the token is not in the p7s")
	}
	// The attribute is OID, then SET { token }: the OID's DER precedes the
	// SET header right before the token.
	oid := []byte{0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x02, 0x0e}
	before := p7s[:at]
	if i := bytes.LastIndex(before, oid); i < 0 || at-(i+len(oid)) > 5 {
		t.Fatal("the token is not the value of id-aa-signatureTimeStampToken")
	}
	return p7s[at : at+len(want)]
}

func TestVerifyCAdESRefusesWeakDigest(t *testing.T) {
	tr := devTrust(t)
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		t.Fatal(err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA1)
	if err := sd.AddSignerChain(tr.signer.Cert, tr.signer.Key, tr.signer.Chain[1:], pkcs7.SignerInfoConfig{}); err != nil {
		t.Fatal(err)
	}
	sd.Detach()
	p7s, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	_, err = sip.VerifyCAdES(context.Background(), p7s, content, tr.signerRoots, tr.tsaRoots)
	mustFail(t, "SHA-1", err, "digest algorithm")
}

// counting wraps a key and a TSA to count what SignT asks of them.
type countingKey struct {
	crypto.Signer
	n int
}

func (k *countingKey) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	k.n++
	return k.Signer.Sign(r, digest, opts)
}

type countingTSA struct {
	timestamp.Authority
	n int
}

func (c *countingTSA) Timestamp(ctx context.Context, b []byte) (timestamp.Token, error) {
	c.n++
	return c.Authority.Timestamp(ctx, b)
}

func TestSignTSignsOnceAndStampsOnce(t *testing.T) {
	tr := devTrust(t)
	key := &countingKey{Signer: tr.signer.Key}
	tsa := &countingTSA{Authority: tr.tsa}
	s := &sip.Signer{Cert: tr.signer.Cert, Key: key, Chain: tr.signer.Chain}
	p7s, _, err := s.SignT(context.Background(), content, tsa)
	if err != nil {
		t.Fatal(err)
	}
	if key.n != 1 || tsa.n != 1 {
		t.Fatalf("%d signatures, %d TSA requests; want one of each", key.n, tsa.n)
	}
	if _, err := sip.VerifyCAdES(context.Background(), p7s, content, tr.signerRoots, tr.tsaRoots); err != nil {
		t.Fatal(err)
	}
}

// VerifyCAdESFrom reads the content as a stream and judges as VerifyCAdES
// does: the same signer and timestamp for the signed bytes, the SHA-256
// of what it read, and a refusal for one changed byte or a read error.
func TestVerifyCAdESFromStream(t *testing.T) {
	ctx := context.Background()
	tr := devTrust(t)
	p7s, _, err := tr.signer.SignT(ctx, content, tr.tsa)
	if err != nil {
		t.Fatal(err)
	}
	from := func(b []byte) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	v, sum, err := sip.VerifyCAdESFrom(ctx, p7s, from(content), tr.signerRoots, tr.tsaRoots)
	if err != nil || !v.Signer.Equal(tr.signer.Cert) || v.Timestamp == nil || sum != sha256.Sum256(content) {
		t.Fatalf("stream: %v %+v", err, v)
	}
	changed := append([]byte(nil), content...)
	changed[len(changed)/2] ^= 1
	if _, _, err := sip.VerifyCAdESFrom(ctx, p7s, from(changed), tr.signerRoots, tr.tsaRoots); err == nil || !strings.Contains(err.Error(), "does not match content") {
		t.Fatalf("a changed byte: %v", err)
	}
	broken := func() (io.ReadCloser, error) { return nil, errors.New("disk gone") }
	if _, _, err := sip.VerifyCAdESFrom(ctx, p7s, broken, tr.signerRoots, tr.tsaRoots); err == nil {
		t.Fatal("an unreadable content passed")
	}
	other := testpki.Root(t, "Another CA", testpki.Options{CA: true})
	if _, _, err := sip.VerifyCAdESFrom(ctx, p7s, from(content), other.Pool(), tr.tsaRoots); err == nil {
		t.Fatal("verified against another root")
	}
}
