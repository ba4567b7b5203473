package pecgen

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/conserva/conserva/pec"
)

// Fixture is one test message with the verdict a correct verifier gives
// when trusting the set's CA.
type Fixture struct {
	Name        string
	Raw         []byte
	Kind        pec.Kind
	ReceiptType string
	Verdict     pec.Verdict
	Path        string // where WriteFixtures put it
}

// FixtureSet is every case the verifier must get right, built with one
// throwaway provider CA (trusted) and one stranger CA (not trusted).
type FixtureSet struct {
	CA       *CA       // the trusted CA
	Provider *Provider // its provider
	Fixtures []Fixture
	TrustPEM string // path of the trusted CA bundle, after WriteFixtures
}

// NewFixtureSet builds the set. It takes a few seconds: one fixture is
// signed by a certificate that expires five seconds later, and the set is
// returned only once it has, so that "expired now, valid at signing time"
// is real.
func NewFixtureSet() (*FixtureSet, error) {
	now := time.Now()
	ca, err := NewCA("Test PEC CA", now.Add(-10*365*24*time.Hour), now.Add(10*365*24*time.Hour))
	if err != nil {
		return nil, err
	}
	prov, err := ca.NewProvider(ProviderOptions{Name: "Posta Certificata Test", Domain: "pec.test.example"})
	if err != nil {
		return nil, err
	}
	ecProv, err := ca.NewProvider(ProviderOptions{Name: "Posta Certificata EC", Domain: "pec.ec.example", Key: ECDSAP256})
	if err != nil {
		return nil, err
	}
	// The "expired now" provider's certificate is made just before its
	// fixture (below), expiring five seconds later.
	var expiresSoon time.Time
	expiredProv, err := ca.NewProvider(ProviderOptions{Name: "Posta Certificata Expired", Domain: "pec.exp.example",
		NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)})
	if err != nil {
		return nil, err
	}
	stranger, err := NewCA("Stranger CA", now.Add(-time.Hour), now.Add(365*24*time.Hour))
	if err != nil {
		return nil, err
	}
	strangerProv, err := stranger.NewProvider(ProviderOptions{Name: "Posta Certificata Sconosciuta", Domain: "pec.unknown.example"})
	if err != nil {
		return nil, err
	}
	set := &FixtureSet{CA: ca, Provider: prov}
	add := func(name string, p *Provider, s Spec, verdict pec.Verdict, receipt string, post func([]byte) []byte) error {
		raw, err := p.Build(s)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if post != nil {
			raw = post(raw)
		}
		kind := s.Kind
		if kind == "" {
			kind = pec.KindPostaCertificata
		}
		set.Fixtures = append(set.Fixtures, Fixture{Name: name, Raw: raw, Kind: kind, ReceiptType: receipt, Verdict: verdict})
		return nil
	}
	inner, err := prov.Build(Spec{Kind: pec.KindPostaCertificata, Subject: "messaggio inoltrato"})
	if err != nil {
		return nil, err
	}
	steps := []func() error{
		func() error {
			return add("posta-certificata", prov, Spec{Kind: pec.KindPostaCertificata}, pec.Valid, "completa", nil)
		},
		func() error {
			return add("anomalia", prov, Spec{Kind: pec.KindAnomalia, OmitDaticert: true, Inner: inner}, pec.Valid, "", nil)
		},
		func() error { return add("accettazione", prov, Spec{Kind: pec.KindAccettazione}, pec.Valid, "", nil) },
		func() error {
			return add("non-accettazione", prov, Spec{Kind: pec.KindNonAccettazione, Errore: "altro",
				ErroreEsteso: "Sono state riscontrate le seguenti anomalie: destinatario non valido"}, pec.Valid, "", nil)
		},
		func() error {
			return add("presa-in-carico", prov, Spec{Kind: pec.KindPresaInCarico}, pec.Valid, "", nil)
		},
		func() error {
			return add("avvenuta-consegna-completa", prov, Spec{Kind: pec.KindAvvenutaConsegna, ReceiptType: "completa",
				Attachment: []byte("%PDF-1.4 documento di prova")}, pec.Valid, "completa", nil)
		},
		func() error {
			return add("avvenuta-consegna-breve", prov, Spec{Kind: pec.KindAvvenutaConsegna, ReceiptType: "breve",
				Attachment: []byte("%PDF-1.4 documento di prova")}, pec.Valid, "breve", nil)
		},
		func() error {
			return add("avvenuta-consegna-sintetica", prov, Spec{Kind: pec.KindAvvenutaConsegna, ReceiptType: "sintetica"}, pec.Valid, "sintetica", nil)
		},
		func() error {
			return add("errore-consegna", prov, Spec{Kind: pec.KindErroreConsegna, Errore: "no-dest",
				ErroreEsteso: "5.1.1 - Gestore di prova - indirizzo non valido"}, pec.Valid, "", nil)
		},
		func() error {
			return add("preavviso-errore-consegna", prov, Spec{Kind: pec.KindPreavvisoErroreConsegna, Errore: "altro",
				ErroreEsteso: "5.4.1 - tempo massimo superato"}, pec.Valid, "", nil)
		},
		func() error {
			return add("rilevazione-virus", prov, Spec{Kind: pec.KindRilevazioneVirus, Errore: "virus", ErroreEsteso: "Eicar-Test-Signature"}, pec.Valid, "", nil)
		},
		func() error { return add("not-pec", prov, Spec{Kind: pec.KindNotPEC}, pec.Absent, "", nil) },
		func() error {
			return add("envelope-breve-header", prov, Spec{Kind: pec.KindPostaCertificata, ReceiptType: "breve", HeaderTipo: "breve"}, pec.Valid, "breve", nil)
		},
		func() error {
			return add("tampered-body", prov, Spec{Kind: pec.KindPostaCertificata}, pec.Invalid, "completa", Tamper)
		},
		func() error {
			return add("untrusted-signer", strangerProv, Spec{Kind: pec.KindPostaCertificata}, pec.Untrusted, "completa", nil)
		},
		func() error {
			return add("lf-endings", prov, Spec{Kind: pec.KindAccettazione, BareLF: true}, pec.Valid, "", nil)
		},
		func() error {
			// The fixture must be signed in an earlier second than notAfter,
			// since OpenSSL counts notAfter itself as expired (RFC 5280 and
			// conserva count it as valid): on a machine so loaded that
			// making the key and signing took the five seconds, try again.
			for try := 0; ; try++ {
				expiresSoon = time.Now().Add(5 * time.Second).Truncate(time.Second)
				shortProv, err := ca.NewProvider(ProviderOptions{Name: "Posta Certificata Scaduta", Domain: "pec.old.example", NotAfter: expiresSoon})
				if err != nil {
					return err
				}
				n := len(set.Fixtures)
				if err := add("expired-now-valid-at-signing", shortProv, Spec{Kind: pec.KindAvvenutaConsegna}, pec.Valid, "completa", nil); err != nil {
					return err
				}
				if time.Now().Before(expiresSoon.Add(-time.Second)) {
					return nil
				}
				if try == 5 {
					return errors.New("expired-now-valid-at-signing: could not sign within five seconds of making the certificate")
				}
				set.Fixtures = set.Fixtures[:n]
			}
		},
		func() error {
			return add("signed-after-expiry", expiredProv, Spec{Kind: pec.KindPostaCertificata}, pec.Invalid, "completa", nil)
		},
		func() error {
			return add("opaque-p7m", prov, Spec{Kind: pec.KindPostaCertificata, Opaque: true}, pec.Valid, "completa", nil)
		},
		func() error {
			return add("missing-daticert", prov, Spec{Kind: pec.KindAccettazione, OmitDaticert: true}, pec.Valid, "", nil)
		},
		func() error {
			return add("iso-8859-1-subject", prov, Spec{Kind: pec.KindPostaCertificata, Subject: "Perché è così", Charset: "iso-8859-1"}, pec.Valid, "completa", nil)
		},
		func() error {
			return add("truncated", prov, Spec{Kind: pec.KindPostaCertificata}, pec.Invalid, "completa", func(b []byte) []byte { return b[:len(b)*6/10] })
		},
		func() error {
			return add("signature-removed", prov, Spec{Kind: pec.KindAccettazione, OmitSignature: true}, pec.Invalid, "", nil)
		},
		func() error {
			return add("ecdsa-sha256", ecProv, Spec{Kind: pec.KindAccettazione, Digest: "sha256"}, pec.Valid, "", nil)
		},
		func() error {
			return add("no-signing-time", prov, Spec{Kind: pec.KindAccettazione, NoSigningTime: true}, pec.Valid, "", nil)
		},
		func() error {
			return add("unsigned-pec", prov, Spec{Kind: pec.KindAccettazione, Unsigned: true}, pec.Absent, "", nil)
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	set.Fixtures = append(set.Fixtures, Fixture{Name: "garbage", Raw: Garbage(4096), Kind: pec.KindNotPEC, Verdict: pec.Absent})
	if wait := time.Until(expiresSoon.Add(1100 * time.Millisecond)); wait > 0 {
		time.Sleep(wait)
	}
	return set, nil
}

// WriteFixtures writes every fixture as NAME.eml and the trusted CA as
// trust.pem into dir.
func (s *FixtureSet) WriteFixtures(dir string) error {
	s.TrustPEM = filepath.Join(dir, "trust.pem")
	if err := os.WriteFile(s.TrustPEM, PEM(s.CA.Cert), 0o644); err != nil {
		return err
	}
	for i := range s.Fixtures {
		f := &s.Fixtures[i]
		f.Path = filepath.Join(dir, f.Name+".eml")
		if err := os.WriteFile(f.Path, f.Raw, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Get returns the named fixture.
func (s *FixtureSet) Get(name string) Fixture {
	for _, f := range s.Fixtures {
		if f.Name == name {
			return f
		}
	}
	panic("pecgen: no fixture " + name)
}
