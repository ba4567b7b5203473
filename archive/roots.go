package archive

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/conserva/conserva/internal/devpki"
)

// Roots are the pinned trust anchors of the archive's own seals: who may
// sign a package (the responsabile della conservazione's CA) and which TSA
// may timestamp it. They come from outside every package (configuration,
// environment, flags); a package is never checked against the certificates
// it carries itself.
type Roots struct {
	Signer []*x509.Certificate
	TSA    []*x509.Certificate
	// SignerPEM and TSAPEM are the files as given; they are copied into the
	// store (trust/roots/<sha256>.pem) so that the archive keeps them.
	SignerPEM, TSAPEM []byte
	// Where each came from, for messages ("[seal] signer_roots", …).
	SignerFrom, TSAFrom string
}

// RootsOptions override the configured roots (the --signer-roots and
// --tsa-roots flags).
type RootsOptions struct {
	Signer, TSA string
}

// SignerPool is the signer roots as a pool for chain building.
func (r *Roots) SignerPool() *x509.CertPool { return pool(r.Signer) }

// TSAPool is the TSA roots as a pool for chain building.
func (r *Roots) TSAPool() *x509.CertPool { return pool(r.TSA) }

func pool(certs []*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// Fingerprint is the SHA-256 of a certificate's DER, lower-case hex: what
// `openssl x509 -outform DER | sha256sum` prints.
func Fingerprint(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}

// RootOf returns the root among roots that ends chain (its last
// certificate), nil when none does.
func RootOf(chain []*x509.Certificate, roots []*x509.Certificate) *x509.Certificate {
	if len(chain) == 0 {
		return nil
	}
	last := chain[len(chain)-1]
	for _, r := range roots {
		if r.Equal(last) {
			return r
		}
	}
	return nil
}

// SealRoots resolves the pinned roots: flags, then CONSERVA_SIGNER_ROOTS /
// CONSERVA_TSA_ROOTS, then [seal] signer_roots / tsa_roots (tsa_ca is the
// older name of tsa_roots), then, where the development signer or TSA is in
// use, the development CA. A configured signer or TSA without its roots is
// an error: nothing would attribute its seals.
func (a *Archive) SealRoots(opts RootsOptions) (*Roots, error) {
	return a.sealRootsFor(a.Config.Seal, opts)
}

// sealRootsFor resolves the roots for a signer and TSA configured as cfg.
func (a *Archive) sealRootsFor(cfg SealConfig, opts RootsOptions) (*Roots, error) {
	r := &Roots{}
	var devCA []byte
	dev := func() ([]byte, error) {
		if devCA != nil {
			return devCA, nil
		}
		k, err := devpki.LoadOrCreate(filepath.Join(a.Dir, "keys"))
		if err != nil {
			return nil, err
		}
		devCA = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.CA.Raw})
		return devCA, nil
	}
	pick := func(what, flag, env, conf, confName string, configured bool) ([]byte, []*x509.Certificate, string, error) {
		path, from := flag, "--"+what+"-roots"
		if path == "" {
			path, from = os.Getenv(env), env
		}
		if path == "" {
			path, from = conf, "[seal] "+confName
		}
		if path == "" {
			if configured {
				return nil, nil, "", fmt.Errorf("the %s is given but not its roots: set [seal] %s in conserva.toml (or %s, or --%s-roots) to the PEM file of its CA", what, confName, env, what)
			}
			data, err := dev()
			if err != nil {
				return nil, nil, "", err
			}
			certs, err := parseRoots(data)
			return data, certs, "the development CA (keys/dev-ca.pem)", err
		}
		data, err := os.ReadFile(a.path(path))
		if err != nil {
			return nil, nil, "", fmt.Errorf("%s roots (%s): %w", what, from, err)
		}
		certs, err := parseRoots(data)
		if err != nil {
			return nil, nil, "", fmt.Errorf("%s roots %s (%s): %w", what, path, from, err)
		}
		return data, certs, from + " = " + path, nil
	}
	var err error
	if r.SignerPEM, r.Signer, r.SignerFrom, err = pick("signer", opts.Signer, "CONSERVA_SIGNER_ROOTS", cfg.SignerRoots, "signer_roots", cfg.Signer != ""); err != nil {
		return nil, err
	}
	if r.TSAPEM, r.TSA, r.TSAFrom, err = pick("tsa", opts.TSA, "CONSERVA_TSA_ROOTS", firstNonEmpty(cfg.TSARoots, cfg.TSACA), "tsa_roots", cfg.TSAURL != ""); err != nil {
		return nil, err
	}
	return r, nil
}

// parseRoots reads a PEM file of CA certificates: at least one, nothing
// that is not a certificate.
func parseRoots(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("a %s block: a roots file holds certificates only", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate in it")
	}
	return certs, nil
}

// keepRoots copies the roots files into the store, write-once by hash, and
// returns their keys: the archive keeps what its seals were checked against.
func (a *Archive) keepRoots(ctx context.Context, r *Roots) (signerKey, tsaKey string, err error) {
	put := func(data []byte) (string, error) {
		s := sha256.Sum256(data)
		key := "trust/roots/" + hex.EncodeToString(s[:]) + ".pem"
		return key, a.putBytes(ctx, key, data)
	}
	if signerKey, err = put(r.SignerPEM); err != nil {
		return "", "", err
	}
	tsaKey, err = put(r.TSAPEM)
	return signerKey, tsaKey, err
}

// verifyRoots are the pinned roots every package is checked against: the
// run's overrides, else the configuration, else the development CA.
func (a *Archive) verifyRoots() (*Roots, error) {
	if a.roots != nil {
		return a.roots, nil
	}
	r, err := a.SealRoots(a.RootsOverride)
	if err != nil {
		return nil, err
	}
	a.roots = r
	return r, nil
}

// chainRoot is the root among roots that cert chains to through
// intermediates, nil when none does (judged now: for what is about to be
// signed).
func chainRoot(cert *x509.Certificate, intermediates, roots []*x509.Certificate) *x509.Certificate {
	chains, err := cert.Verify(x509.VerifyOptions{Roots: pool(roots), Intermediates: pool(intermediates), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil || len(chains) == 0 {
		return nil
	}
	return chains[0][len(chains[0])-1]
}
