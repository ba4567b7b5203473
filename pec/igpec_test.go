package pec_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conserva/conserva/pec"
)

// TestIGPECTrust builds an LDIF export in the IGPEC schema (RFC 6109) with
// the provider's certificate, folded as LDIF folds long lines, and uses it
// as the trust source.
func TestIGPECTrust(t *testing.T) {
	set := fixtureSet(t)
	b64 := base64.StdEncoding.EncodeToString(set.Provider.Cert.Raw)
	var folded strings.Builder
	folded.WriteString("providerCertificate;binary:: " + b64[:40])
	for rest := b64[40:]; len(rest) > 0; {
		n := min(76, len(rest))
		folded.WriteString("\n " + rest[:n])
		rest = rest[n:]
	}
	ldif := "version: 1\n# IGPEC export\n\ndn: providerName=Test,o=postacert\nobjectClass: provider\nproviderName: Gestore di prova S.p.A.\n" +
		"mailReceipt: posta-certificata@pec.test.example\nmanagedDomains: pec.test.example\nmanagedDomains: pec2.test.example\n" +
		"providerCertificateHash: 00:11\n" + folded.String() + "\n\ndn: providerName=Other,o=postacert\nproviderName: Altro\n"
	providers, err := pec.ParseIGPEC(strings.NewReader(ldif))
	if err != nil {
		t.Fatal(err)
	}
	if len(providers) != 2 || providers[0].Name != "Gestore di prova S.p.A." || len(providers[0].ManagedDomains) != 2 || len(providers[0].Certificates) != 1 {
		t.Fatalf("%+v", providers)
	}
	path := filepath.Join(t.TempDir(), "igpec.ldif")
	if err := os.WriteFile(path, []byte(ldif), 0o644); err != nil {
		t.Fatal(err)
	}
	trust, err := pec.LoadTrustFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := pec.Parse(set.Get("accettazione").Raw, pec.DefaultLimits())
	if v := m.Verify(trust); v.Verdict != pec.Valid {
		t.Fatalf("with the IGPEC provider certificate as anchor: %s (%s)", v.Verdict, v.Reason)
	}
	if _, err := pec.ParseIGPEC(strings.NewReader("providerCertificate:: !!!\n")); err == nil {
		t.Fatal("bad base64 accepted")
	}
}
