package pec_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/pec"
)

// fixtures are built once per test binary: making them takes a few seconds
// (one certificate has to expire for real).
var fixtures = sync.OnceValues(pecgen.NewFixtureSet)

func fixtureSet(t *testing.T) *pecgen.FixtureSet {
	t.Helper()
	set, err := fixtures()
	if err != nil {
		t.Fatalf("building fixtures: %v", err)
	}
	return set
}

func check(t *testing.T, raw []byte, trust *pec.TrustStore) (*pec.Message, pec.Verification) {
	t.Helper()
	m := pec.Parse(raw, pec.DefaultLimits())
	return m, m.Verify(trust)
}

func TestFixturesKindAndVerdict(t *testing.T) {
	set := fixtureSet(t)
	trust := pec.NewTrustStore(set.CA.Cert)
	for _, f := range set.Fixtures {
		t.Run(f.Name, func(t *testing.T) {
			before := append([]byte(nil), f.Raw...)
			m, v := check(t, f.Raw, trust)
			if m.Kind != f.Kind {
				t.Errorf("kind = %s, want %s (warnings %v)", m.Kind, f.Kind, m.Warnings)
			}
			if m.ReceiptType != f.ReceiptType {
				t.Errorf("receipt type = %q, want %q", m.ReceiptType, f.ReceiptType)
			}
			if v.Verdict != f.Verdict {
				t.Errorf("verdict = %s (%s), want %s", v.Verdict, v.Reason, f.Verdict)
			}
			if v.Reason == "" {
				t.Error("no reason given")
			}
			if !bytes.Equal(f.Raw, before) || !bytes.Equal(m.Raw, before) {
				t.Error("the raw bytes were modified")
			}
			sum := sha256.Sum256(before)
			if m.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("sha256 = %s, want the hash of the raw bytes", m.SHA256)
			}
		})
	}
}

func TestNoTrustAnchorsIsNeverValid(t *testing.T) {
	set := fixtureSet(t)
	_, v := check(t, set.Get("posta-certificata").Raw, nil)
	if v.Verdict != pec.Untrusted || !strings.Contains(v.Reason, "no trust anchors") {
		t.Fatalf("without anchors: %s (%s), want untrusted saying no anchors are configured", v.Verdict, v.Reason)
	}
}

func TestProviderCertificateAsAnchor(t *testing.T) {
	set := fixtureSet(t)
	// Trusting the provider's own certificate, not its CA (OpenSSL's -partial_chain).
	_, v := check(t, set.Get("accettazione").Raw, pec.NewTrustStore(set.Provider.Cert))
	if v.Verdict != pec.Valid {
		t.Fatalf("provider certificate as anchor: %s (%s)", v.Verdict, v.Reason)
	}
}

func TestBareLFIsCanonicalisedForVerificationOnly(t *testing.T) {
	set := fixtureSet(t)
	f := set.Get("lf-endings")
	if bytes.Contains(f.Raw, []byte("\r\n")) {
		t.Fatal("fixture is not LF-only")
	}
	m, v := check(t, f.Raw, pec.NewTrustStore(set.CA.Cert))
	if v.Verdict != pec.Valid || !v.Canonicalized {
		t.Fatalf("LF file: %s canonicalized=%v (%s)", v.Verdict, v.Canonicalized, v.Reason)
	}
	if bytes.Contains(m.Raw, []byte("\r\n")) {
		t.Fatal("the stored bytes were canonicalised")
	}
}

func TestExpiredTodayButValidAtSigningTime(t *testing.T) {
	set := fixtureSet(t)
	m, v := check(t, set.Get("expired-now-valid-at-signing").Raw, pec.NewTrustStore(set.CA.Cert))
	if v.SignerCert == nil || !v.SignerCert.NotAfter.Before(time.Now()) {
		t.Fatal("the signer certificate of this fixture should have expired by now")
	}
	if v.Verdict != pec.Valid || v.TimeSource != pec.TimeFromSigningTime {
		t.Fatalf("%s via %s (%s), want valid judged at signingTime", v.Verdict, v.TimeSource, v.Reason)
	}
	_ = m
}

func TestSignedAfterExpiry(t *testing.T) {
	set := fixtureSet(t)
	_, v := check(t, set.Get("signed-after-expiry").Raw, pec.NewTrustStore(set.CA.Cert))
	if v.Verdict != pec.Invalid || !strings.Contains(v.Reason, "validity") {
		t.Fatalf("%s (%s), want invalid for a signature made after the certificate expired", v.Verdict, v.Reason)
	}
}

func TestNoSigningTimeUsesDaticert(t *testing.T) {
	set := fixtureSet(t)
	m, v := check(t, set.Get("no-signing-time").Raw, pec.NewTrustStore(set.CA.Cert))
	if v.TimeSource != pec.TimeFromDaticert || v.SignedAt == nil || !v.SignedAt.Equal(m.Daticert.Data) {
		t.Fatalf("time source %q at %v, want the daticert time %v", v.TimeSource, v.SignedAt, m.Daticert.Data)
	}
}

func TestTamperedNamesTheAlteration(t *testing.T) {
	set := fixtureSet(t)
	_, v := check(t, set.Get("tampered-body").Raw, pec.NewTrustStore(set.CA.Cert))
	if !strings.Contains(v.Reason, "altered") {
		t.Fatalf("reason %q does not say the content was altered", v.Reason)
	}
}

func TestLegacyAlgorithmsAreReported(t *testing.T) {
	set := fixtureSet(t)
	_, v := check(t, set.Get("accettazione").Raw, pec.NewTrustStore(set.CA.Cert))
	if len(v.Legacy) == 0 || v.Legacy[0] != "SHA-1 message digest" {
		t.Fatalf("legacy = %v, want the SHA-1 digest reported", v.Legacy)
	}
	_, v = check(t, set.Get("ecdsa-sha256").Raw, pec.NewTrustStore(set.CA.Cert))
	if len(v.Legacy) != 0 {
		t.Fatalf("legacy = %v for an ECDSA/SHA-256 signature", v.Legacy)
	}
}

func TestLinkingFields(t *testing.T) {
	set := fixtureSet(t)
	m, _ := check(t, set.Get("avvenuta-consegna-completa").Raw, nil)
	d := m.Daticert
	if d == nil {
		t.Fatal("no daticert")
	}
	if m.RefMessageID == "" || m.RefMessageID != m.Msgid {
		t.Errorf("X-Riferimento-Message-ID %q should equal daticert msgid %q", m.RefMessageID, m.Msgid)
	}
	if m.Identificativo == "" || d.Consegna != "destinatario@pec.altro.example" || d.Ricevuta != "completa" {
		t.Errorf("daticert fields: %+v", d)
	}
	if m.Sender != "mittente@pec.test.example" || len(m.Recipients) != 1 {
		t.Errorf("sender %q recipients %v", m.Sender, m.Recipients)
	}
	if post := postacert(t, m); !bytes.Contains(post, []byte("%PDF-1.4")) && !bytes.Contains(post, []byte("JVBERi0xLjQ")) {
		t.Error("postacert.eml does not carry the original attachment")
	}
	env, _ := check(t, set.Get("posta-certificata").Raw, nil)
	if env.Sender != "mittente@pec.test.example" || env.From != "posta-certificata@pec.test.example" {
		t.Errorf("envelope sender %q from %q", env.Sender, env.From)
	}
	if !bytes.Contains(postacert(t, env), []byte("X-Riferimento-Message-ID: "+env.RefMessageID)) {
		t.Error("postacert.eml is not the embedded original with the provider's X-Riferimento-Message-ID")
	}
}

func TestBreveReceiptKeepsTheHashes(t *testing.T) {
	set := fixtureSet(t)
	m, _ := check(t, set.Get("avvenuta-consegna-breve").Raw, nil)
	if post := postacert(t, m); !bytes.Contains(post, []byte("documento.pdf.hash")) || bytes.Contains(post, []byte("JVBERi0xLjQ")) {
		t.Fatal("a breve receipt's postacert.eml should carry the hash, not the attachment")
	}
	s, _ := check(t, set.Get("avvenuta-consegna-sintetica").Raw, nil)
	if postacert(t, s) != nil {
		t.Fatal("a sintetica receipt carries no original")
	}
}

func TestISO88591Subject(t *testing.T) {
	set := fixtureSet(t)
	m, _ := check(t, set.Get("iso-8859-1-subject").Raw, nil)
	if want := "POSTA CERTIFICATA: Perché è così"; m.Subject != want {
		t.Fatalf("subject %q, want %q", m.Subject, want)
	}
	if !bytes.Contains(set.Get("iso-8859-1-subject").Raw, []byte("=?iso-8859-1?")) {
		t.Fatal("fixture subject is not ISO-8859-1 encoded")
	}
}

func TestAnomaliaCarryingAnEnvelope(t *testing.T) {
	set := fixtureSet(t)
	m, _ := check(t, set.Get("anomalia").Raw, nil)
	if m.Kind != pec.KindAnomalia {
		t.Fatalf("kind %s: the outer kind must win", m.Kind)
	}
	inner := pec.Parse(postacert(t, m), pec.DefaultLimits())
	if inner.Kind != pec.KindPostaCertificata {
		t.Fatalf("inner kind %s, want the carried envelope", inner.Kind)
	}
}

func TestMissingDaticertIsAWarning(t *testing.T) {
	set := fixtureSet(t)
	m, _ := check(t, set.Get("missing-daticert").Raw, nil)
	if m.Daticert != nil || !hasWarning(m, "daticert.xml is missing") {
		t.Fatalf("warnings %v", m.Warnings)
	}
}

func TestHeaderAndDaticertDisagree(t *testing.T) {
	set := fixtureSet(t)
	raw, err := set.Provider.Build(pecgen.Spec{Kind: pec.KindAccettazione, DaticertTipo: "avvenuta-consegna"})
	if err != nil {
		t.Fatal(err)
	}
	m, v := check(t, raw, pec.NewTrustStore(set.CA.Cert))
	if m.Kind != pec.KindAccettazione || !hasWarning(m, `daticert.xml says tipo="avvenuta-consegna"`) {
		t.Fatalf("kind %s warnings %v: headers must win, with a warning", m.Kind, m.Warnings)
	}
	if v.Verdict != pec.Valid {
		t.Fatalf("a disagreement is a finding, not a signature failure: %s", v.Verdict)
	}
}

func TestUntrustedIsNotMistakenForExpired(t *testing.T) {
	set := fixtureSet(t)
	_, v := check(t, set.Get("untrusted-signer").Raw, pec.NewTrustStore(set.CA.Cert))
	if v.Verdict != pec.Untrusted || !strings.Contains(v.Reason, "no path") {
		t.Fatalf("%s (%s)", v.Verdict, v.Reason)
	}
}

func TestSizeLimit(t *testing.T) {
	set := fixtureSet(t)
	raw := set.Get("accettazione").Raw
	m := pec.Parse(raw, pec.Limits{MaxSize: 100, MaxDepth: 32, MaxParts: 100})
	v := m.Verify(pec.NewTrustStore(set.CA.Cert))
	if v.Verdict != pec.Invalid || !strings.Contains(v.Reason, "size limit") {
		t.Fatalf("%s (%s), want invalid for exceeding the size limit", v.Verdict, v.Reason)
	}
}

func TestDeepNestingIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: a@b.example\r\nX-Trasporto: posta-certificata\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n")
	const depth = 5000
	for i := 1; i <= depth; i++ {
		b.WriteString("--b" + strconv.Itoa(i-1) + "\r\nContent-Type: multipart/mixed; boundary=b" + strconv.Itoa(i) + "\r\n\r\n")
	}
	m := pec.Parse([]byte(b.String()), pec.DefaultLimits())
	if !hasWarning(m, "nesting deeper than") {
		t.Fatalf("warnings %v, want the nesting limit reported", m.Warnings)
	}
}

func hasWarning(m *pec.Message, substr string) bool {
	for _, w := range m.Warnings {
		if strings.Contains(w, substr) {
			return true
		}
	}
	return false
}

func postacert(t *testing.T, m *pec.Message) []byte {
	t.Helper()
	b, err := m.Postacert()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
