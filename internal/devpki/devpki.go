// Package devpki makes and keeps the development keys of an archive: a CA,
// a package signer and a TSA. They let the embedded default seal packages
// with no setup, and they have no legal value: every name says so.
package devpki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/conserva/conserva/internal/atomicfile"
)

// Warning is said wherever development keys are used.
const Warning = "DEVELOPMENT keys: no legal value"

// Identity is a certificate with its key and chain (leaf first, CA last).
type Identity struct {
	Cert  *x509.Certificate
	Key   crypto.Signer
	Chain []*x509.Certificate
}

// Keys are an archive's development keys.
type Keys struct {
	CA *x509.Certificate
	// CAKey signs the CA's CRL; nil for keys made before the CA published
	// one (their certificates name no CRL distribution point either).
	CAKey  crypto.Signer
	Signer Identity
	TSA    Identity
	dir    string
}

// CRLURL is the CRL distribution point the development CA writes in the
// certificates it issues: `conserva tsa serve` answers it at its default
// address, and an archive using its own development keys makes the same
// CRL in process (Keys.CRL), so no server is needed.
const CRLURL = "http://127.0.0.1:3161/crl"

var oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}
var oidTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}

// LoadOrCreate reads the keys from dir, making them on first use. A keys
// file that exists but cannot be read whole (empty, truncated, damaged) is an
// error naming it: replacing it silently would make a new CA, and every
// package sealed so far would no longer check against dev-ca.pem.
func LoadOrCreate(dir string) (*Keys, error) {
	path := filepath.Join(dir, "dev-keys.pem")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		if data, err = create(); err != nil {
			return nil, err
		}
		// Written whole or not at all; a concurrent first use keeps the
		// file that won.
		if err := atomicfile.WriteNew(path, data, 0o600); errors.Is(err, os.ErrExist) {
			data, err = os.ReadFile(path)
			if err != nil {
				return nil, err
			}
		} else if err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	k, err := parse(data)
	if k != nil {
		k.dir = dir
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w (left by an interrupted write? restore it from a backup: "+
			"deleting it makes a new development CA, and the packages sealed with the old one check only against the old dev-ca.pem)", path, err)
	}
	// The CA alone, for openssl -CAfile (the keys file carries PEM headers);
	// remade when missing or not the keys' own.
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.CA.Raw})
	caPath := filepath.Join(dir, "dev-ca.pem")
	if have, err := os.ReadFile(caPath); err != nil || !bytes.Equal(have, ca) {
		if err := atomicfile.Write(caPath, ca, 0o644); err != nil {
			return nil, err
		}
	}
	return k, nil
}

func create() ([]byte, error) {
	now := time.Now().Add(-time.Minute)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: serial(), NotBefore: now, NotAfter: now.AddDate(30, 0, 0),
		Subject:               pkix.Name{CommonName: "conserva DEVELOPMENT CA - no legal value", Organization: []string{"conserva development"}},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(cn string, tmpl *x509.Certificate) ([]byte, []byte, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl.SerialNumber, tmpl.NotBefore, tmpl.NotAfter = serial(), now, now.AddDate(30, 0, 0)
		tmpl.Subject = pkix.Name{CommonName: cn, Organization: []string{"conserva development"}}
		tmpl.CRLDistributionPoints = []string{CRLURL}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
		if err != nil {
			return nil, nil, err
		}
		k, err := x509.MarshalPKCS8PrivateKey(key)
		return der, k, err
	}
	signerDER, signerKey, err := issue("conserva DEVELOPMENT package signer - no legal value",
		&x509.Certificate{KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment})
	if err != nil {
		return nil, err
	}
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{oidTimeStamping})
	// RFC 3161 §2.3: exactly one EKU, timeStamping, marked critical
	// (OpenSSL refuses the TSA otherwise).
	tsaDER, tsaKey, err := issue("conserva DEVELOPMENT TSA - no legal value", &x509.Certificate{
		KeyUsage:        x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtraExtensions: []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: eku}},
	})
	if err != nil {
		return nil, err
	}
	caKeyDER, err := x509.MarshalPKCS8PrivateKey(caKey)
	if err != nil {
		return nil, err
	}
	var out []byte
	for _, b := range []*pem.Block{
		{Type: "CERTIFICATE", Headers: map[string]string{"Role": "ca"}, Bytes: caDER},
		{Type: "PRIVATE KEY", Headers: map[string]string{"Role": "ca"}, Bytes: caKeyDER},
		{Type: "CERTIFICATE", Headers: map[string]string{"Role": "signer"}, Bytes: signerDER},
		{Type: "PRIVATE KEY", Headers: map[string]string{"Role": "signer"}, Bytes: signerKey},
		{Type: "CERTIFICATE", Headers: map[string]string{"Role": "tsa"}, Bytes: tsaDER},
		{Type: "PRIVATE KEY", Headers: map[string]string{"Role": "tsa"}, Bytes: tsaKey},
	} {
		out = append(out, pem.EncodeToMemory(b)...)
	}
	return out, nil
}

func parse(data []byte) (*Keys, error) {
	certs := map[string]*x509.Certificate{}
	keys := map[string]crypto.Signer{}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		role := b.Headers["Role"]
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, err
			}
			certs[role] = c
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, err
			}
			s, ok := k.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("%s key cannot sign", role)
			}
			keys[role] = s
		}
	}
	if len(certs) == 0 && len(keys) == 0 {
		return nil, errors.New("no development key in the file (empty or damaged)")
	}
	if certs["ca"] == nil || certs["signer"] == nil || certs["tsa"] == nil || keys["signer"] == nil || keys["tsa"] == nil {
		return nil, errors.New("the development keys file is incomplete (truncated?)")
	}
	ca := certs["ca"]
	return &Keys{
		CA:     ca,
		CAKey:  keys["ca"],
		Signer: Identity{Cert: certs["signer"], Key: keys["signer"], Chain: []*x509.Certificate{certs["signer"], ca}},
		TSA:    Identity{Cert: certs["tsa"], Key: keys["tsa"], Chain: []*x509.Certificate{certs["tsa"], ca}},
	}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n.Add(n, big.NewInt(1))
}

// CRL is the development CA's current CRL (DER, no certificate revoked),
// kept as dev-crl.der beside the keys: `tsa serve` and the in-process
// default give the same bytes. It is made again when less than a day of
// its week of validity is left. Keys made before the CA published a CRL
// have none (os.ErrNotExist).
func (k *Keys) CRL(now time.Time) ([]byte, error) {
	if k.CAKey == nil {
		return nil, fmt.Errorf("the development CA of %s publishes no CRL (made by an older conserva): %w", k.dir, os.ErrNotExist)
	}
	path := filepath.Join(k.dir, "dev-crl.der")
	if der, err := os.ReadFile(path); err == nil {
		crl, err := x509.ParseRevocationList(der)
		if err == nil && crl.CheckSignatureFrom(k.CA) == nil && crl.NextUpdate.Sub(now) > 24*time.Hour && !crl.ThisUpdate.After(now) {
			return der, nil
		}
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:     big.NewInt(now.Unix()),
		ThisUpdate: now.Add(-time.Minute).UTC(),
		NextUpdate: now.AddDate(0, 0, 7).UTC(),
	}, k.CA, k.CAKey)
	if err != nil {
		return nil, err
	}
	// Two processes remaking it at once each keep a valid CRL.
	return der, atomicfile.Write(path, der, 0o644)
}
