package archive

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/conserva/conserva/internal/devpki"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/sip"
	"github.com/conserva/conserva/storage"
	"github.com/conserva/conserva/timestamp"
	"github.com/smallstep/pkcs7"
)

// PackageRecord is what the catalog keeps of a sealed package.
type PackageRecord struct {
	ID          string    `json:"package"`
	Messages    int       `json:"messages"`
	Bytes       int64     `json:"bytes"`
	Created     time.Time `json:"created"`
	Timestamp   time.Time `json:"timestamp"`
	Development bool      `json:"development,omitempty"`
}

// SealOptions override the configuration for one run.
type SealOptions struct {
	TSAURL string // an RFC 3161 TSA over HTTP(S)
	Signer string // PKCS#12 file; password from CONSERVA_SIGNER_PASSWORD
	// Progress, when set, is called with the number of messages sealed.
	Progress func(done int)
}

// journal is written before a package's first object, so that a seal
// killed halfway resumes the same package: same id, same members, the
// objects already stored reused. A message is thus never in two packages,
// and none counts as sealed before its package is complete.
type journal struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	IDs     []string  `json:"ids"`
}

const journalKey = "sealing"

// Seal puts every catalogued message not yet in a package into new
// packages: index.xml (SInCRO), the metadata of each message, the CAdES
// signature of the index and the RFC 3161 timestamp of the signature.
func (a *Archive) Seal(ctx context.Context, opts SealOptions) ([]PackageRecord, []string, error) {
	signer, tsa, dev, warnings, err := a.sealKeys(opts)
	if err != nil {
		return nil, nil, err
	}
	var out []PackageRecord
	done := 0
	for {
		j, resumed, err := a.nextJournal()
		if err != nil || j == nil {
			return out, warnings, err
		}
		if resumed {
			a.Log.Warn("resuming an interrupted seal", "package", j.ID, "messages", len(j.IDs))
		}
		p, err := a.sealPackage(ctx, j, signer, tsa, dev, warnings)
		if err != nil {
			return out, warnings, fmt.Errorf("package %s: %w", j.ID, err)
		}
		out = append(out, p)
		done += p.Messages
		if opts.Progress != nil {
			opts.Progress(done)
		}
	}
}

// sealKeys picks the signer and the TSA: given, configured, or the
// development ones (said loudly).
func (a *Archive) sealKeys(opts SealOptions) (*sip.Signer, timestamp.Authority, bool, []string, error) {
	cfg := a.Config.Seal
	var (
		signer   *sip.Signer
		tsa      timestamp.Authority
		warnings []string
		dev      bool
		keys     *devpki.Keys
	)
	devKeys := func() (*devpki.Keys, error) {
		if keys != nil {
			return keys, nil
		}
		var err error
		keys, err = devpki.LoadOrCreate(filepath.Join(a.Dir, "keys"))
		return keys, err
	}
	p12 := firstNonEmpty(opts.Signer, cfg.Signer)
	if p12 != "" {
		s, err := sip.LoadPKCS12(a.path(p12), os.Getenv("CONSERVA_SIGNER_PASSWORD"))
		if err != nil {
			return nil, nil, false, nil, err
		}
		signer = s
	} else {
		k, err := devKeys()
		if err != nil {
			return nil, nil, false, nil, err
		}
		signer = &sip.Signer{Cert: k.Signer.Cert, Key: k.Signer.Key, Chain: k.Signer.Chain}
		warnings = append(warnings, "signed with the DEVELOPMENT signer: no legal value")
		dev = true
	}
	if url := firstNonEmpty(opts.TSAURL, cfg.TSAURL); url != "" {
		var roots *x509.CertPool
		if cfg.TSACA != "" {
			data, err := os.ReadFile(a.path(cfg.TSACA))
			if err != nil {
				return nil, nil, false, nil, fmt.Errorf("tsa_ca: %w", err)
			}
			roots = x509.NewCertPool()
			if !roots.AppendCertsFromPEM(data) {
				return nil, nil, false, nil, fmt.Errorf("tsa_ca %s: no certificate", cfg.TSACA)
			}
		}
		password := ""
		if cfg.TSAPasswordEnv != "" {
			password = os.Getenv(cfg.TSAPasswordEnv)
		}
		tsa = timestamp.NewHTTP(url, cfg.TSAUser, password, roots, cfg.TSAInsecureTLS)
	} else {
		k, err := devKeys()
		if err != nil {
			return nil, nil, false, nil, err
		}
		tsa = &timestamp.Dev{Cert: k.TSA.Cert, Key: k.TSA.Key, Chain: k.TSA.Chain}
		warnings = append(warnings, "timestamped by the DEVELOPMENT TSA: no legal value")
		dev = true
	}
	return signer, tsa, dev, warnings, nil
}

func (a *Archive) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return filepath.Join(a.Dir, p)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// nextJournal returns the interrupted package to resume, else the next
// package of pending messages (nil when none is pending).
func (a *Archive) nextJournal() (*journal, bool, error) {
	var j journal
	found, err := a.Catalog.getJSON(bucketMeta, journalKey, &j)
	if err != nil || found {
		return &j, found, err
	}
	maxMsgs := a.Config.Seal.MaxMessages
	if maxMsgs <= 0 {
		maxMsgs = 100000
	}
	maxBytes, err := ParseSize(firstNonEmpty(a.Config.Seal.MaxBytes, "10GB"))
	if err != nil {
		return nil, false, fmt.Errorf("max_package_bytes: %w", err)
	}
	var pending []*Record
	err = a.Catalog.Scan(func(r *Record) error {
		if r.Package == "" && r.Damage == "" { // damaged or missing: nothing to seal
			pending = append(pending, r)
		}
		return nil
	})
	if err != nil || len(pending) == 0 {
		return nil, false, err
	}
	sort.Slice(pending, func(i, k int) bool { return pending[i].IngestedAt.Before(pending[k].IngestedAt) })
	var size int64
	for _, r := range pending {
		if len(j.IDs) > 0 && (len(j.IDs) >= maxMsgs || size+r.Size > maxBytes) {
			break
		}
		j.IDs = append(j.IDs, r.ID)
		size += r.Size
	}
	sort.Strings(j.IDs)
	now := time.Now().UTC().Truncate(time.Second)
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	j.ID = now.Format("20060102T150405Z") + "-" + hex.EncodeToString(suffix)
	j.Created = now
	return &j, false, a.Catalog.putJSON(bucketMeta, journalKey, j)
}

func (a *Archive) sealPackage(ctx context.Context, j *journal, signer *sip.Signer, tsa timestamp.Authority, dev bool, warnings []string) (PackageRecord, error) {
	prefix := "packages/" + j.ID + "/"
	recs, err := a.Catalog.records(j.IDs)
	if err != nil {
		return PackageRecord{}, err
	}
	if len(recs) != len(j.IDs) {
		return PackageRecord{}, fmt.Errorf("%d of %d messages are not catalogued", len(j.IDs)-len(recs), len(j.IDs))
	}
	ix := &sip.Index{
		ID: j.ID, Created: j.Created, AppVersion: a.Version,
		Submitter:        sip.Agent{Name: a.Config.Seal.Submitter, Legal: true},
		Holder:           sip.Agent{Name: a.Config.Seal.Holder, Legal: true},
		AuthorizedSigner: sip.Agent{Name: a.Config.Seal.AuthorizedSigner},
		SignerName:       signer.Cert.Subject.CommonName,
		TSAName:          tsa.Name(),
		Warnings:         warnings,
		TimestampPath:    "index.xml.p7s.tsr",
	}
	var total int64
	for _, r := range recs {
		total += r.Size
		ix.Messages = append(ix.Messages, sip.File{ID: r.ID, Path: r.Key, SHA256: r.ID, Format: "message/rfc822", Extension: "eml", Size: r.Size})
	}
	if ix.Metadata, err = a.writeMetadata(ctx, prefix, recs); err != nil {
		return PackageRecord{}, err
	}
	index, err := a.reuseOr(ctx, prefix+"index.xml", ix.XML)
	if err != nil {
		return PackageRecord{}, err
	}
	p7s, err := a.reuseOr(ctx, prefix+"index.xml.p7s", func() ([]byte, error) { return signer.Sign(index) })
	if err != nil {
		return PackageRecord{}, err
	}
	var tok timestamp.Token
	tsr, err := a.reuseOr(ctx, prefix+"index.xml.p7s.tsr", func() ([]byte, error) {
		t, err := tsa.Timestamp(ctx, p7s)
		return t.Response, err
	})
	if err != nil {
		return PackageRecord{}, err
	}
	if tok, err = timestamp.Parse(tsr); err != nil {
		return PackageRecord{}, err
	}
	p7, err := pkcs7.Parse(p7s)
	if err != nil {
		return PackageRecord{}, fmt.Errorf("stored signature: %w", err)
	}
	if err := a.putBytes(ctx, prefix+"signer-chain.pem", pemChain(p7.Certificates)); err != nil {
		return PackageRecord{}, err
	}
	if err := a.putBytes(ctx, prefix+"tsa-chain.pem", pemChain(tok.Chain)); err != nil {
		return PackageRecord{}, err
	}
	if s, ok := a.Store.(storage.DirSyncer); ok {
		if err := s.SyncDirs(ctx); err != nil {
			return PackageRecord{}, err
		}
	}
	p := PackageRecord{ID: j.ID, Messages: len(recs), Bytes: total, Created: j.Created, Timestamp: tok.Time.UTC(), Development: dev}
	return p, a.Catalog.markSealed(p, j.IDs)
}

// reuseOr returns the object under key if a previous, interrupted run
// stored it, else makes it and stores it.
func (a *Archive) reuseOr(ctx context.Context, key string, make func() ([]byte, error)) ([]byte, error) {
	rc, err := a.readEvidence(ctx, key)
	if err == nil {
		defer rc.Close()
		return io.ReadAll(rc)
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	data, err := make()
	if err != nil {
		return nil, err
	}
	return data, a.putBytes(ctx, key, data)
}

func (a *Archive) putBytes(ctx context.Context, key string, data []byte) error {
	sum := sha256.Sum256(data)
	_, err := a.Store.Put(ctx, key, bytes.NewReader(data), hex.EncodeToString(sum[:]))
	return err
}

func pemChain(certs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// documentOf is the metadata of a catalogued message.
func documentOf(r *Record, retention string) *sip.Document {
	flow := "E"
	if r.Kind.IsReceipt() {
		// Receipts come back to the sender: they document an outgoing message.
		flow = "U"
	}
	kind := string(r.Kind)
	if r.Kind == pec.KindNotPEC {
		kind = "messaggio non PEC"
	}
	return &sip.Document{
		SHA256: r.ID, Kind: kind, Flow: flow, Registered: r.IngestedAt,
		Sender: r.From, Recipients: r.To, Subject: r.Subject,
		Verdict: string(r.Signature), Reason: r.Reason, Signer: r.Signer, SignedAt: r.SignedAt,
		Retention: retention, Identificativo: r.Identificativo, Msgid: r.Msgid,
		ReceiptType: r.ReceiptType, Consegna: r.Consegna, Linked: r.Dossier,
	}
}

// writeMetadata stores meta/<sha256>.xml for every message, in parallel:
// each object is fsynced, and waiting on many at once is what keeps a
// 100,000-message package within seconds.
func (a *Archive) writeMetadata(ctx context.Context, prefix string, recs []*Record) ([]sip.File, error) {
	files := make([]sip.File, len(recs))
	errs := make([]error, len(recs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range 8 * runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := recs[i]
				meta, err := documentOf(r, a.Config.Retention).MetadataXML()
				if err == nil {
					key := prefix + "meta/" + r.ID + ".xml"
					sum := sha256.Sum256(meta)
					files[i] = sip.File{ID: "meta-" + r.ID, Path: key, SHA256: hex.EncodeToString(sum[:]), Format: "application/xml", Extension: "xml", Size: int64(len(meta))}
					err = a.putDeferred(ctx, key, meta)
				}
				errs[i] = err
			}
		}()
	}
	for i := range recs {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	// One flush for all of them, before the index that lists them is signed.
	if d, ok := a.Store.(storage.DeferredPutter); ok {
		if err := d.Sync(ctx); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// putDeferred stores without a per-object fsync where the store allows it.
func (a *Archive) putDeferred(ctx context.Context, key string, data []byte) error {
	d, ok := a.Store.(storage.DeferredPutter)
	if !ok {
		return a.putBytes(ctx, key, data)
	}
	sum := sha256.Sum256(data)
	_, err := d.PutDeferred(ctx, key, bytes.NewReader(data), hex.EncodeToString(sum[:]))
	return err
}
