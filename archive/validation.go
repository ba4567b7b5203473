package archive

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/conserva/conserva/ers"
	"github.com/conserva/conserva/evidencepack"
	"github.com/conserva/conserva/internal/devpki"
	"github.com/conserva/conserva/sip"
	"github.com/conserva/conserva/storage"
	"github.com/conserva/conserva/timestamp"
	"github.com/conserva/conserva/validation"
)

// Validation data (package validation): the certificates and revocation
// information of the signer's and the TSA's chains, fetched at seal and
// renewal time, kept in the package as validation/certs/<sha256>.cer,
// validation/crls/<sha256>.crl, validation/ocsp/<sha256>.der and named in
// the signed index.

// Revocation policies ([seal] revocation, --revocation).
const (
	RevocationRequire    = "require"     // a CRL that cannot be fetched refuses the seal (default)
	RevocationBestEffort = "best-effort" // it is left out, said as a warning; audit names it
)

const validationDir = "validation/"

// probe is what the TSA is asked to stamp to learn its chain before the
// first package file is written.
var probe = []byte("conserva: which certificate does this TSA sign with?")

// chainValidation collects the validation data of the signer's and the
// TSA's chains once per run, and refuses (before anything of a package is
// written) a chain with a certificate revoked now, or, under the default
// policy, one whose revocation information cannot be fetched.
func (a *Archive) chainValidation(ctx context.Context, k *sealKit, what string) error {
	if k.validation != nil {
		return nil
	}
	policy := firstNonEmpty(k.revocation, a.Config.Seal.Revocation, RevocationRequire)
	if policy != RevocationRequire && policy != RevocationBestEffort {
		return fmt.Errorf("revocation = %q: %q or %q", policy, RevocationRequire, RevocationBestEffort)
	}
	now := time.Now()
	signerChain := k.signer.Chain
	intermediates := x509.NewCertPool()
	for _, c := range k.signer.Chain[1:] {
		intermediates.AddCert(c)
	}
	if chains, err := k.signer.Cert.Verify(x509.VerifyOptions{Roots: k.roots.SignerPool(), Intermediates: intermediates,
		CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
		signerChain = chains[0]
	}
	var tsaChain []*x509.Certificate
	if d, ok := k.tsa.(*timestamp.Dev); ok {
		tsaChain = d.Chain
	} else {
		tok, err := k.tsa.Timestamp(ctx, probe)
		if err != nil {
			return fmt.Errorf("refusing to %s: asking the TSA for its certificate: %w", what, err)
		}
		tsaChain = tok.Chain
	}
	f := validationFetcher(k)
	b := &validation.Bundle{}
	for _, c := range []struct {
		role  string
		chain []*x509.Certificate
	}{{"signer", signerChain}, {"TSA", tsaChain}} {
		got, missing := validation.Collect(ctx, f, c.chain, now)
		for _, fd := range validation.Check(got, c.chain, now) {
			if fd.Revoked {
				return fmt.Errorf("refusing to %s: the %s's %s", what, c.role, fd)
			}
		}
		for _, m := range missing {
			if policy == RevocationRequire {
				return fmt.Errorf("refusing to %s: the %s's %v (revocation = %q in [seal] or --revocation %s to %s without it; audit then names it)",
					what, c.role, m, RevocationBestEffort, RevocationBestEffort, what)
			}
			k.warnings = append(k.warnings, fmt.Sprintf("the %s's %v", c.role, m))
		}
		b.Add(got)
	}
	k.validation = b
	return nil
}

func validationFetcher(k *sealKit) validation.Fetcher {
	f := validation.Fetcher(validation.NewHTTP())
	if k.devKeys != nil {
		// The development CA's CRL is made in process: no server runs.
		f = &validation.Local{Next: f, URLs: map[string]func(context.Context) ([]byte, error){
			devpki.CRLURL: func(context.Context) ([]byte, error) { return k.devKeys.CRL(time.Now()) },
		}}
	}
	return f
}

// refuseRevokedStamp refuses a new timestamp whose TSA chain is not the
// one chainValidation judged from its probe (a TSA service with several
// units, or a hostile one stamping the probe with a unit in good standing)
// when that chain's revocation information says it is revoked now.
func (a *Archive) refuseRevokedStamp(ctx context.Context, k *sealKit, ts *timestamp.Verified) error {
	if ts == nil || k.validation == nil || slices.ContainsFunc(k.validation.Certs, func(c []byte) bool { return bytes.Equal(c, ts.Chain[0].Raw) }) {
		return nil // the chain judged already (its policy applied there)
	}
	now := time.Now()
	got, _ := validation.Collect(ctx, validationFetcher(k), ts.Chain, now)
	for _, fd := range validation.Check(got, ts.Chain, now) {
		if fd.Revoked {
			return fmt.Errorf("refusing the TSA's answer: its %s", fd)
		}
	}
	return nil
}

// refuseRevokedToken is refuseRevokedStamp for an archive timestamp
// (DER token), already verified against the pinned TSA roots.
func (a *Archive) refuseRevokedToken(ctx context.Context, k *sealKit, token []byte) error {
	chain, at, err := timestamp.TokenChain(ctx, token, k.roots.TSAPool())
	if err != nil {
		return err
	}
	return a.refuseRevokedStamp(ctx, k, &timestamp.Verified{Chain: chain, Time: at})
}

// storeValidation writes the run's validation data into a package (unless
// its index is already stored: it names what an earlier run stored) and
// returns them as the index lists them.
func (a *Archive) storeValidation(ctx context.Context, prefix string, b *validation.Bundle) ([]sip.File, error) {
	if b.Empty() {
		return nil, nil
	}
	if _, err := a.Store.Stat(ctx, prefix+"index.xml"); err == nil {
		return nil, nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	files := b.Files()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []sip.File
	for _, n := range names {
		data := files[n]
		key := prefix + validationDir + n
		if err := a.putBytes(ctx, key, data); err != nil {
			return nil, err
		}
		s := sha256.Sum256(data)
		format := map[string]string{".cer": "application/pkix-cert", ".crl": "application/pkix-crl", ".der": "application/ocsp-response"}[path.Ext(n)]
		out = append(out, sip.File{ID: "validation-" + hex.EncodeToString(s[:]), Path: key, SHA256: hex.EncodeToString(s[:]),
			Format: format, Extension: strings.TrimPrefix(path.Ext(n), "."), Size: int64(len(data))})
	}
	return out, nil
}

// auditValidation judges a package's validation data (the files its
// signed index names under validation/, as read) against the chains its
// signature and timestamps were verified with (built to the pinned roots):
// each certificate present, each CRL signed by its issuer, none revoked at
// the time the timestamps prove. A package sealed before validation data
// were kept names none and is not judged.
func auditValidation(prefix string, files map[string][]byte, check sealCheck) []Problem {
	if len(files) == 0 {
		return nil
	}
	var probs []Problem
	seen := map[string]bool{}
	b, err := validation.FromFiles(files)
	if err != nil {
		return []Problem{{Key: prefix + validationDir, Problem: err.Error()}}
	}
	judge := func(role string, chain []*x509.Certificate, at time.Time) {
		for _, f := range validation.Check(b, chain, at) {
			if seen[f.String()] {
				continue // the same TSA for both timestamps
			}
			seen[f.String()] = true
			probs = append(probs, Problem{Key: prefix + validationDir, Problem: role + " " + f.String()})
		}
	}
	if sig := check.sig; sig != nil && sig.Timestamp != nil {
		// The signature is proven to exist at its timestamp's time: the
		// signer's certificate must not have been revoked before it.
		judge("signer", sig.Chain, sig.Timestamp.Time)
		judge("TSA (signature timestamp)", sig.Timestamp.Chain, sig.Timestamp.Time)
	}
	if ts := check.ts; ts != nil {
		judge("TSA", ts.Chain, ts.Time)
	}
	return probs
}

// maxCryptoInfos bounds the validation data copied into every evidence
// record (RFC 4998 §3 cryptoInfos): a large CA's CRL is megabytes, and a
// package has a record per message. Above it the records carry none; the
// package's validation/ files keep them.
const maxCryptoInfos = 64 << 10

// packagesCryptoInfos is the cryptoInfos of each package's records: its
// validation files as its index names them (read from the store, so a
// resumed run makes the same records).
func (a *Archive) packagesCryptoInfos(ctx context.Context, objs []ersObject) (map[string][]byte, error) {
	files := map[string]map[string][]byte{}
	for _, o := range objs {
		name, ok := strings.CutPrefix(o.Name, validationDir)
		if !ok {
			continue
		}
		data, err := a.readAll(ctx, o.Key)
		if err != nil {
			return nil, err
		}
		if files[o.Package] == nil {
			files[o.Package] = map[string][]byte{}
		}
		files[o.Package][name] = data
	}
	out := map[string][]byte{}
	for pkg, f := range files {
		b, err := validation.FromFiles(f)
		if err != nil {
			return nil, fmt.Errorf("package %s: %w", pkg, err)
		}
		der, err := b.CryptoInfos()
		if err != nil {
			return nil, fmt.Errorf("package %s: %w", pkg, err)
		}
		if len(der) <= maxCryptoInfos {
			out[pkg] = der
		}
	}
	return out, nil
}

// withCryptoInfos adds validation data to a record's cryptoInfos (nil:
// left as it is): a renewed record keeps what its earlier timestamps need
// beside what the new one needs, within maxCryptoInfos.
func withCryptoInfos(rec, infos []byte) ([]byte, error) {
	if infos == nil {
		return rec, nil
	}
	er, err := ers.Parse(rec)
	if err != nil {
		return nil, err
	}
	if er.CryptoInfos != nil {
		old, err1 := validation.FromCryptoInfos(er.CryptoInfos)
		add, err2 := validation.FromCryptoInfos(infos)
		if err1 == nil && err2 == nil {
			old.Add(add)
			if both, err := old.CryptoInfos(); err == nil && len(both) <= maxCryptoInfos {
				infos = both
			}
		}
	}
	er.CryptoInfos = infos
	return er.Marshal()
}

// exportValidation ships the validation files a package's index names
// (into files too, for the checks of the pack) and returns their names.
// The index is read from open token by token: 145 MB at 100,000 messages.
func (a *Archive) exportValidation(ctx context.Context, prefix string, open func() (io.ReadCloser, error), files map[string][]byte, add func(string, []byte) error) ([]string, error) {
	rc, err := open()
	if err != nil {
		return nil, nil // named by the checks of the pack
	}
	var listed []indexFile
	err = walkIndexFiles(bufio.NewReaderSize(rc, 64<<10), func(f indexFile) error {
		if name, ok := strings.CutPrefix(f.Path, prefix); ok && strings.HasPrefix(name, validationDir) {
			listed = append(listed, f)
		}
		return nil
	})
	rc.Close()
	if err != nil {
		return nil, nil // an index that does not parse lists nothing; named by the checks of the pack
	}
	var out []string
	for _, f := range listed {
		name, _ := strings.CutPrefix(f.Path, prefix)
		data, err := a.readAll(ctx, f.Path)
		if err != nil {
			continue // named by the checks of the pack
		}
		files[name] = data
		if err := add(f.Path, data); err != nil {
			return nil, err
		}
		out = append(out, f.Path)
	}
	return out, nil
}

// crlChecks are the checks VERIFY.txt can make of a package's validation
// data with openssl: the conservator's and the TSA's certificates, where
// the package keeps their certificates and at least one CRL.
func crlChecks(prefix string, files map[string][]byte, check sealCheck) []evidencepack.CRLCheck {
	var crls []string
	have := map[string]bool{}
	for name := range files {
		if strings.HasPrefix(name, validationDir+validation.CRLsDir) {
			crls = append(crls, prefix+name)
		}
		have[name] = true
	}
	if len(crls) == 0 {
		return nil
	}
	sort.Strings(crls)
	certFile := func(c *x509.Certificate) string {
		s := sha256.Sum256(c.Raw)
		name := validationDir + validation.CertsDir + hex.EncodeToString(s[:]) + ".cer"
		if !have[name] {
			return ""
		}
		return prefix + name
	}
	var out []evidencepack.CRLCheck
	add := func(role string, chain []*x509.Certificate) {
		if len(chain) < 2 || len(chain[0].CRLDistributionPoints) == 0 {
			return
		}
		c := evidencepack.CRLCheck{Role: role, Leaf: certFile(chain[0]), CRLs: crls}
		for _, i := range chain[1 : len(chain)-1] {
			if f := certFile(i); f != "" {
				c.Intermediates = append(c.Intermediates, f)
			}
		}
		if c.Leaf != "" {
			out = append(out, c)
		}
	}
	if check.sig != nil {
		add("signer", check.sig.Chain)
	}
	if check.ts != nil {
		add("tsa", check.ts.Chain)
	}
	return out
}

// auditERSValidation judges the validation data each package's evidence
// records carry (cryptoInfos; one record stands for the package, as in
// renew.go: they share their timestamps and validation data): the TSA
// chain of every archive timestamp, built to the pinned TSA roots, must
// not have been revoked at the timestamp's time. Records without
// cryptoInfos (sealed before, or over maxCryptoInfos) are not judged here:
// the package's files are.
func (a *Archive) auditERSValidation(ctx context.Context) []Problem {
	roots, err := a.verifyRoots()
	if err != nil {
		return nil // named by the other checks
	}
	var probs []Problem
	_ = a.Catalog.Packages(func(p PackageRecord) error {
		v, err := a.ersVersion(ctx, p.ID)
		if err != nil || v == 0 {
			return nil // named by auditERS
		}
		key := ersKey(p.ID, "index.xml.p7s.tsr", v)
		rec, err := a.readERS(ctx, key)
		if err != nil {
			return nil
		}
		er, err := ers.Parse(rec)
		if err != nil || er.CryptoInfos == nil {
			return nil
		}
		b, err := validation.FromCryptoInfos(er.CryptoInfos)
		if err != nil {
			probs = append(probs, Problem{Key: key, Problem: "cryptoInfos: " + err.Error()})
			return nil
		}
		seen := map[string]bool{}
		for c, chain := range er.Chains {
			for i, ats := range chain {
				path, at, err := timestamp.TokenChain(ctx, ats.TimeStamp, roots.TSAPool())
				if err != nil {
					continue // named by auditERS
				}
				for _, f := range validation.Check(b, path, at) {
					if !seen[f.String()] {
						seen[f.String()] = true
						probs = append(probs, Problem{Key: key, Problem: fmt.Sprintf("archive timestamp %d.%d: TSA %s", c+1, i+1, f)})
					}
				}
			}
		}
		return nil
	})
	return probs
}
