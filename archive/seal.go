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
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/conserva/conserva/accesslog"
	"github.com/conserva/conserva/agid"
	"github.com/conserva/conserva/internal/bytesize"
	"github.com/conserva/conserva/internal/devpki"
	"github.com/conserva/conserva/internal/parallel"
	"github.com/conserva/conserva/internal/redact"
	"github.com/conserva/conserva/segment"
	"github.com/conserva/conserva/sip"
	"github.com/conserva/conserva/storage"
	"github.com/conserva/conserva/timestamp"
	"github.com/conserva/conserva/validation"
)

// PackageRecord is what the catalog keeps of a sealed package.
type PackageRecord struct {
	ID          string    `json:"package"`
	Messages    int       `json:"messages"`
	Bytes       int64     `json:"bytes"`
	Created     time.Time `json:"created"`
	Timestamp   time.Time `json:"timestamp"`
	Development bool      `json:"development,omitempty"`
	// Who sealed it, and the pinned roots it was checked against when it
	// was sealed (SHA-256 fingerprints of the root certificates, and the
	// store keys of the roots files kept).
	Signer          string `json:"signer,omitempty"`
	TSA             string `json:"tsa,omitempty"`
	SignerRoot      string `json:"signer_root,omitempty"`
	TSARoot         string `json:"tsa_root,omitempty"`
	SignerRootsFile string `json:"signer_roots_file,omitempty"`
	TSARootsFile    string `json:"tsa_roots_file,omitempty"`
	// Retention in force when it was sealed: scarto never ends a
	// retention earlier than this, whatever the configuration says later.
	Retention string `json:"retention,omitempty"`
	// The access log segment it seals, if any (accesslog.go).
	AccessLog string `json:"access_log,omitempty"`
	// Renewed is the newest version of its evidence records a renewal
	// wrote (records.<n>.tar): the store is probed for versions, so one
	// deleted would otherwise just make the one before it the latest.
	Renewed int `json:"renewed,omitempty"`
}

// developmentKeys: the journal's warnings say the development signer or TSA
// was used (a best-effort revocation warning does not make a package
// "development").
func developmentKeys(warnings []string) bool {
	for _, w := range warnings {
		if strings.Contains(w, "DEVELOPMENT") {
			return true
		}
	}
	return false
}

// SealOptions override the configuration for one run.
type SealOptions struct {
	TSAURL string // an RFC 3161 TSA over HTTP(S)
	Signer string // PKCS#12 file; password from CONSERVA_SIGNER_PASSWORD
	Roots  RootsOptions
	// Revocation overrides [seal] revocation (RevocationRequire, RevocationBestEffort).
	Revocation string
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
	// What the package is sealed with, recorded before its index is
	// written: a resumed seal writes only what these say (the index names
	// the signer and TSA), whatever the configuration says meanwhile.
	Signer    string   `json:"signer,omitempty"` // SHA-256 of the signer certificate
	TSA       string   `json:"tsa,omitempty"`    // the TSA's name in the index
	Retention string   `json:"retention,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	Abandoned []string `json:"abandoned,omitempty"` // earlier ids of this package, left incomplete in the store
	// The access log records it seals (accesslog.go), cut when it was begun.
	AccessLog *accesslog.Segment `json:"access_log,omitempty"`
}

const journalKey = "sealing"

// Seal puts every catalogued message not yet in a package into new
// packages: index.xml (SInCRO), the metadata of each message, the CAdES
// signature of the index and the RFC 3161 timestamp of the signature.
func (a *Archive) Seal(ctx context.Context, opts SealOptions) ([]PackageRecord, []string, error) {
	k, err := a.sealKeys(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	var out []PackageRecord
	done := 0
	for {
		j, resumed, err := a.nextJournal(ctx, k)
		if err == nil && j == nil {
			// Then the rapporti di versamento of the ingest runs since (versamento.go).
			err = a.signPendingReports(ctx, k)
		}
		if err != nil || j == nil {
			if err == nil {
				// One archive timestamp for every package of the run
				// (seal_ers.go), and for any left without records.
				if err = a.sealEvidence(ctx, k); err != nil {
					err = fmt.Errorf("evidence records: %w", err)
				}
			}
			return out, k.warnings, err
		}
		if resumed {
			a.Log.Warn("resuming an interrupted seal", "package", j.ID, "messages", len(j.IDs))
		}
		// Before anything of the package is stored (validation.go).
		if err := a.chainValidation(ctx, k, "seal"); err != nil {
			return out, k.warnings, err
		}
		if j, err = a.settle(ctx, j, k); err != nil {
			return out, k.warnings, fmt.Errorf("package %s: %w", j.ID, err)
		}
		p, err := a.sealPackage(ctx, j, k, resumed)
		if err != nil {
			return out, k.warnings, fmt.Errorf("package %s: %w", j.ID, err)
		}
		out = append(out, p)
		done += p.Messages
		if opts.Progress != nil {
			opts.Progress(done)
		}
	}
}

// sealKit is what a seal signs and timestamps with, and checks against.
type sealKit struct {
	signer   *sip.Signer
	tsa      timestamp.Authority
	tsaName  string
	roots    *Roots
	dev      bool
	warnings []string
	// Store keys of the kept roots files.
	signerRootsKey, tsaRootsKey string
	// What the packages of this run hold, for their evidence records.
	sealed map[string][]ersObject
	// Validation data of the signer's and TSA's chains (validation.go),
	// collected once per run; the policy when some cannot be fetched; the
	// development keys, when loaded, which make their CA's CRL in process.
	validation *validation.Bundle
	revocation string
	devKeys    *devpki.Keys
	// The access log is cut once per run: a server appending all along
	// must not keep the run making packages.
	logCut bool
}

// sealKeys picks the signer and the TSA (given, configured, or the
// development ones, said loudly) and the pinned roots, and refuses before
// anything is written when the signer does not chain to those roots.
func (a *Archive) sealKeys(ctx context.Context, opts SealOptions) (*sealKit, error) {
	cfg := a.Config.Seal
	k := &sealKit{revocation: opts.Revocation}
	var keys *devpki.Keys
	devKeys := func() (*devpki.Keys, error) {
		if keys != nil {
			return keys, nil
		}
		var err error
		keys, err = devpki.LoadOrCreate(filepath.Join(a.Dir, "keys"))
		return keys, err
	}
	roots := opts.Roots
	if p12 := firstNonEmpty(opts.Signer, cfg.Signer); p12 != "" {
		s, err := sip.LoadPKCS12(a.path(p12), os.Getenv("CONSERVA_SIGNER_PASSWORD"))
		if err != nil {
			return nil, err
		}
		k.signer = s
	} else {
		dk, err := devKeys()
		if err != nil {
			return nil, err
		}
		k.signer = &sip.Signer{Cert: dk.Signer.Cert, Key: dk.Signer.Key, Chain: dk.Signer.Chain}
		k.warnings = append(k.warnings, "signed with the DEVELOPMENT signer: no legal value")
		k.dev = true
	}
	url := firstNonEmpty(opts.TSAURL, cfg.TSAURL)
	// Roots for the signer and TSA actually used: the development CA only
	// where the development key or TSA is used.
	used := cfg
	used.Signer, used.TSAURL = firstNonEmpty(opts.Signer, cfg.Signer), url
	r, err := a.sealRootsFor(used, roots)
	if err != nil {
		return nil, err
	}
	k.roots = r
	if err := k.signer.CheckSigner(r.SignerPool(), time.Now()); err != nil {
		return nil, fmt.Errorf("refusing to seal: the signer %q does not chain to the pinned signer roots (%s): %w", k.signer.Cert.Subject.CommonName, r.SignerFrom, err)
	}
	if url != "" {
		password := ""
		if cfg.TSAPasswordEnv != "" {
			password = os.Getenv(cfg.TSAPasswordEnv)
		}
		// Every answer is checked against the pinned TSA roots: one that
		// chains elsewhere is refused before anything is stored.
		k.tsa = timestamp.NewHTTP(url, cfg.TSAUser, password, r.TSAPool(), cfg.TSAInsecureTLS)
		// Named in the signed, write-once index: never with its userinfo.
		k.tsaName = redact.URLNoUserinfo(url)
	} else {
		dk, err := devKeys()
		if err != nil {
			return nil, err
		}
		k.tsa = &timestamp.Dev{Cert: dk.TSA.Cert, Key: dk.TSA.Key, Chain: dk.TSA.Chain}
		k.tsaName = dk.TSA.Cert.Subject.CommonName
		k.warnings = append(k.warnings, "timestamped by the DEVELOPMENT TSA: no legal value")
		k.dev = true
	}
	if k.signerRootsKey, k.tsaRootsKey, err = a.keepRoots(ctx, r); err != nil {
		return nil, err
	}
	k.devKeys = keys
	return k, nil
}

// settle makes the journal say what this run seals with. A package whose
// index is already stored keeps its signer and TSA: if this run has other
// ones, that package is left incomplete (recorded as abandoned) and its
// messages go into a new package under a new id, so that an index always
// names what actually signed and timestamped it.
func (a *Archive) settle(ctx context.Context, j *journal, k *sealKit) (*journal, error) {
	signer := certSum(k.signer.Cert)
	if j.Signer == signer && j.TSA == k.tsaName {
		return j, nil
	}
	if j.Signer != "" {
		_, err := a.Store.Stat(ctx, "packages/"+j.ID+"/index.xml")
		if err == nil {
			a.Log.Warn("the interrupted package was begun with another signer or TSA: sealing its messages under a new id", "package", j.ID)
			j.Abandoned = append(j.Abandoned, j.ID)
			// Remembered beyond the journal, so that audit knows the
			// incomplete folder for what it is.
			if err := a.Catalog.putJSON(bucketMeta, abandonedKey+j.ID, time.Now().UTC()); err != nil {
				return j, err
			}
			j.ID, j.Created = newPackageID()
		} else if !errors.Is(err, storage.ErrNotFound) {
			return j, err
		}
	}
	j.Signer, j.TSA, j.Retention, j.Warnings = signer, k.tsaName, a.Config.Retention, k.warnings
	return j, a.Catalog.putJSON(bucketMeta, journalKey, j)
}

// abandonedKey prefixes, in the meta bucket, the ids of packages left
// incomplete when a seal was resumed with another signer or TSA.
const abandonedKey = "abandoned:"

// abandoned says whether id is such a package.
func (a *Archive) abandoned(id string) bool {
	var at time.Time
	found, err := a.Catalog.getJSON(bucketMeta, abandonedKey+id, &at)
	return err == nil && found
}

func certSum(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}

// packageIDPattern is what newPackageID makes: UTC time and 8 hex digits.
var packageIDPattern = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$`)

// ValidPackageID says whether id is a package id, safe in a key, a file
// name and a shell script.
func ValidPackageID(id string) bool { return packageIDPattern.MatchString(id) }

func newPackageID() (string, time.Time) {
	now := time.Now().UTC().Truncate(time.Second)
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	return now.Format("20060102T150405Z") + "-" + hex.EncodeToString(suffix), now
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
func (a *Archive) nextJournal(ctx context.Context, k *sealKit) (*journal, bool, error) {
	var j journal
	found, err := a.Catalog.getJSON(bucketMeta, journalKey, &j)
	if err != nil || found {
		k.logCut = k.logCut || j.AccessLog != nil
		return &j, found, err
	}
	if !k.logCut {
		k.logCut = true
		a.cutAccessLog(ctx, &j)
	}
	maxMsgs := a.Config.Seal.MaxMessages
	if maxMsgs <= 0 {
		maxMsgs = 100000
	}
	maxBytes, err := bytesize.Parse(firstNonEmpty(a.Config.Seal.MaxBytes, "10GB"))
	if err != nil {
		return nil, false, fmt.Errorf("max_package_bytes: %w", err)
	}
	// The oldest waiting first, in the order catalogued, up to the limits;
	// only those are read (damaged or missing records wait for nothing:
	// they are not in the index).
	var size int64
	err = a.Catalog.Waiting(func(r *Record) error {
		if len(j.IDs) > 0 && (len(j.IDs) >= maxMsgs || size+r.Size > maxBytes) {
			return errStop
		}
		j.IDs = append(j.IDs, r.ID)
		size += r.Size
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	if err != nil || (len(j.IDs) == 0 && j.AccessLog == nil) {
		return nil, false, err
	}
	sort.Strings(j.IDs)
	j.ID, j.Created = newPackageID()
	return &j, false, a.Catalog.putJSON(bucketMeta, journalKey, j)
}

func (a *Archive) sealPackage(ctx context.Context, j *journal, k *sealKit, resumed bool) (PackageRecord, error) {
	prefix := "packages/" + j.ID + "/"
	retention := firstNonEmpty(j.Retention, a.Config.Retention)
	lists, err := a.newPackageLists()
	if err != nil {
		return PackageRecord{}, err
	}
	defer lists.Close()
	ix := &sip.Index{
		ID: j.ID, Created: j.Created, AppVersion: a.Version,
		Submitter:        sip.Agent{Name: a.Config.Seal.Submitter, Legal: true},
		Holder:           sip.Agent{Name: a.Config.Seal.Holder, Legal: true},
		AuthorizedSigner: sip.Agent{Name: a.Config.Seal.AuthorizedSigner},
		SignerName:       k.signer.Cert.Subject.CommonName,
		TSAName:          j.TSA,
		Warnings:         j.Warnings,
		TimestampPath:    "index.xml.p7s.tsr",
	}
	// The messages, the metadata of each and the aggregazione record of
	// each dossier it holds part of (AgID).
	if err := a.writeMetadata(ctx, j, lists, retention, resumed); err != nil {
		return PackageRecord{}, err
	}
	vfiles, err := a.storeValidation(ctx, prefix, k.validation)
	if err != nil {
		return PackageRecord{}, err
	}
	if err := lists.addMetadata(vfiles...); err != nil {
		return PackageRecord{}, err
	}
	if lists.accessLog, err = a.sealAccessLog(ctx, prefix, j); err != nil {
		return PackageRecord{}, err
	}
	// Written into the store as it is made, signed by its hash, read back
	// to check the signature: never held.
	sum, err := a.reuseOrStream(ctx, prefix+"index.xml", func(w io.Writer) error { return ix.WriteLists(w, lists.index()) })
	if err != nil {
		return PackageRecord{}, err
	}
	verify := func(p7s []byte) (*sip.Verified, error) {
		v, got, err := sip.VerifyCAdESFrom(ctx, p7s, func() (io.ReadCloser, error) { return a.readEvidence(ctx, prefix+"index.xml") }, k.roots.SignerPool(), k.roots.TSAPool())
		if err == nil && got != sum {
			err = errors.New("index.xml changed while it was signed")
		}
		return v, err
	}
	tsaPool := k.roots.TSAPool()
	// CAdES-T: the signature carries the TSA's token over its own value.
	// It is checked against the pinned roots before it is stored.
	p7s, err := a.reuseOr(ctx, prefix+"index.xml.p7s", func() ([]byte, error) {
		p7s, _, err := k.signer.SignTDigest(ctx, sum, k.tsa)
		if err != nil {
			return nil, err
		}
		v, err := verify(p7s)
		if err != nil {
			return nil, fmt.Errorf("refusing the new signature: %w", err)
		}
		return p7s, a.refuseRevokedStamp(ctx, k, v.Timestamp)
	})
	if err != nil {
		return PackageRecord{}, err
	}
	sig, err := verify(p7s)
	if err != nil {
		return PackageRecord{}, fmt.Errorf("the stored signature of an interrupted seal does not verify against the pinned roots: %w", err)
	}
	// The detached timestamp of the whole signature file, for openssl
	// ts -verify -data index.xml.p7s.
	tsr, err := a.reuseOr(ctx, prefix+"index.xml.p7s.tsr", func() ([]byte, error) {
		t, err := k.tsa.Timestamp(ctx, p7s)
		if err != nil {
			return nil, err
		}
		v, err := timestamp.VerifyResponse(ctx, t.Response, p7s, tsaPool)
		if err != nil {
			return nil, fmt.Errorf("refusing the TSA's answer: %w", err)
		}
		return t.Response, a.refuseRevokedStamp(ctx, k, v)
	})
	if err != nil {
		return PackageRecord{}, err
	}
	ts, err := timestamp.VerifyResponse(ctx, tsr, p7s, tsaPool)
	if err != nil {
		return PackageRecord{}, fmt.Errorf("the stored timestamp does not verify against the pinned TSA roots: %w", err)
	}
	if err := a.putBytes(ctx, prefix+"signer-chain.pem", pemChain(sig.Chain)); err != nil {
		return PackageRecord{}, err
	}
	if err := a.putBytes(ctx, prefix+"tsa-chain.pem", pemChain(ts.Chain)); err != nil {
		return PackageRecord{}, err
	}
	if s, ok := a.Store.(storage.DirSyncer); ok {
		if err := s.SyncDirs(ctx); err != nil {
			return PackageRecord{}, err
		}
	}
	p := PackageRecord{ID: j.ID, Messages: lists.messages.Len(), Bytes: lists.bytes, Created: j.Created, Timestamp: ts.Time.UTC(), Development: developmentKeys(j.Warnings),
		Signer: sig.Signer.Subject.CommonName, TSA: ts.TSA.Subject.CommonName,
		SignerRoot: Fingerprint(sig.Chain[len(sig.Chain)-1]), TSARoot: Fingerprint(ts.Chain[len(ts.Chain)-1]),
		SignerRootsFile: k.signerRootsKey, TSARootsFile: k.tsaRootsKey, Retention: firstNonEmpty(j.Retention, a.Config.Retention)}
	if j.AccessLog != nil {
		p.AccessLog = j.AccessLog.Name()
		if err := a.markAccessLogSealed(j); err != nil {
			return PackageRecord{}, err
		}
	}
	if err := a.Catalog.markSealedIDs(p, j.IDs); err != nil {
		return p, err
	}
	// The transaction rewrote every record of the package: the pages it
	// touched would otherwise stay resident through the evidence records.
	_ = a.Catalog.releaseLarge() // memory only
	// So does its garbage (as much as the records it wrote), which would
	// otherwise set the heap's goal for the rest of the run.
	debug.FreeOSMemory()
	// Kept for the run's evidence records once the transaction is done
	// (they would add to its peak); without them, those records read
	// the package's index back.
	return p, a.keepObjects(ctx, k, j.ID, lists)
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

// documentOf is the metadata of a catalogued message (agid.go).
func documentOf(r *Record, retention string) *sip.Document {
	return documentOfRecord(r, retention)
}

// writeMetadata lists the messages of the package and stores the metadata
// of each (meta/<sha256>.xml) and the aggregazioni (package agid) in one
// segment, metadata.tar (segments.go), listed as the signed index lists
// them: each file, then the segment itself, so that its every byte is
// signed. The records are read a chunk at a time.
func (a *Archive) writeMetadata(ctx context.Context, j *journal, lists *packageLists, retention string, resumed bool) error {
	prefix := "packages/" + j.ID + "/"
	key := prefix + metadataSegment
	if len(j.IDs) == 0 {
		return nil // a package of access log lines only
	}
	if resumed {
		// A seal of format 1 interrupted before this version: finished as
		// begun (all its records at once, as then).
		if _, err := a.Store.Stat(ctx, prefix+"meta/"+j.IDs[0]+".xml"); err == nil {
			recs, err := a.Catalog.records(j.IDs)
			if err != nil {
				return err
			}
			if len(recs) != len(j.IDs) {
				return fmt.Errorf("%d of %d messages are not catalogued", len(j.IDs)-len(recs), len(j.IDs))
			}
			for _, r := range recs {
				if err := lists.addMessage(r); err != nil {
					return err
				}
			}
			files, err := a.writeLooseMetadata(ctx, prefix, recs, retention, resumed)
			if err != nil {
				return err
			}
			agg, err := a.writeAggregations(ctx, prefix, recs, retention)
			if err != nil {
				return err
			}
			return lists.addMetadata(append(files, agg...)...)
		}
		// What an interrupted run stored is what the index lists, even if
		// a verdict or the retention changed since.
		if ok, err := a.segmentExists(ctx, key); err != nil || ok {
			if err != nil {
				return err
			}
			err := a.eachChunk(j.IDs, func(recs []*Record) error {
				for _, r := range recs {
					if err := lists.addMessage(r); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			return a.listMetadataSegment(ctx, j.ID, lists.addMetadata)
		}
	}
	// The messages' metadata, made in parallel a chunk at a time, then the
	// aggregazioni, gathered meanwhile.
	aggs := agid.NewAggregator(sip.RetentionYears(retention))
	workers := 2 * runtime.GOMAXPROCS(0)
	res, err := a.putSegment(ctx, key, packageTime(j.ID), func(w *segment.Writer) error {
		err := a.eachChunk(j.IDs, func(recs []*Record) error {
			docs := make([]*sip.Document, len(recs))
			for i, r := range recs {
				if err := lists.addMessage(r); err != nil {
					return err
				}
				docs[i] = documentOf(r, retention)
				aggs.Add(docs[i])
			}
			return parallel.Ordered(ctx, len(docs), workers, func(i int) ([]byte, error) {
				return docs[i].MetadataXML()
			}, func(i int, data []byte) error {
				k := prefix + "meta/" + recs[i].ID + ".xml"
				if _, err := w.Add(strings.TrimPrefix(k, prefix), data); err != nil {
					return err
				}
				return lists.addMetadata(metaFile(recs[i].ID, k, data))
			})
		})
		if err != nil {
			return err
		}
		gs := aggs.Result()
		return parallel.Ordered(ctx, len(gs), workers, func(i int) ([]byte, error) {
			return gs[i].AggregationXML()
		}, func(i int, data []byte) error {
			k := agid.AggregationKey(prefix, gs[i].ID)
			if _, err := w.Add(strings.TrimPrefix(k, prefix), data); err != nil {
				return err
			}
			return lists.addMetadata(agid.AggregationFile(k, data))
		})
	})
	if err != nil {
		return err
	}
	return lists.addMetadata(segmentFile(key, res.Info))
}

// segmentFile is how the index lists a segment.
func segmentFile(key string, info storage.Info) sip.File {
	return sip.File{ID: path.Base(key), Path: key, SHA256: info.SHA256, Format: "application/x-tar", Extension: "tar", Size: info.Size}
}

// listMetadataSegment lists a stored metadata segment, to add, as
// writeMetadata did when it wrote it.
func (a *Archive) listMetadataSegment(ctx context.Context, pkg string, add func(...sip.File) error) error {
	prefix := "packages/" + pkg + "/"
	key := prefix + metadataSegment
	rc, err := a.readEvidence(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	err = segment.Each(io.TeeReader(rc, h), func(m segment.Member, r io.Reader) error {
		data, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if id, ok := strings.CutPrefix(m.Name, "meta/"); ok {
			return add(metaFile(strings.TrimSuffix(id, ".xml"), prefix+m.Name, data))
		}
		return add(agid.AggregationFile(prefix+m.Name, data))
	})
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	// The rest of the object (the end blocks) counts in its hash.
	if _, err := io.Copy(h, rc); err != nil {
		return err
	}
	st, err := a.Store.Stat(ctx, key)
	if err != nil {
		return err
	}
	st.SHA256 = hex.EncodeToString(h.Sum(nil))
	return add(segmentFile(key, st))
}

// writeLooseMetadata stores meta/<sha256>.xml for every message as objects
// of their own (format 1), in parallel, with one flush for all.
func (a *Archive) writeLooseMetadata(ctx context.Context, prefix string, recs []*Record, retention string, resumed bool) ([]sip.File, error) {
	files := make([]sip.File, len(recs))
	err := parallel.ForEach(ctx, len(recs), 8*runtime.GOMAXPROCS(0), func(i int) error {
		r := recs[i]
		key := prefix + "meta/" + r.ID + ".xml"
		if resumed {
			// What an interrupted run stored is what the index lists,
			// even if a verdict or the retention changed since.
			meta, err := a.readAll(ctx, key)
			if err == nil {
				files[i] = metaFile(r.ID, key, meta)
				return nil
			}
			if !errors.Is(err, storage.ErrNotFound) {
				return err
			}
		}
		meta, err := documentOf(r, retention).MetadataXML()
		if err != nil {
			return err
		}
		files[i] = metaFile(r.ID, key, meta)
		return a.putDeferred(ctx, key, meta)
	})
	if err != nil {
		return nil, err
	}
	// One flush for all of them, before the index that lists them is signed.
	if d, ok := a.Store.(storage.DeferredPutter); ok {
		if err := d.Sync(ctx); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// metaFile is how the index lists a message's metadata file.
func metaFile(id, key string, meta []byte) sip.File {
	sum := sha256.Sum256(meta)
	return sip.File{ID: "meta-" + id, Path: key, SHA256: hex.EncodeToString(sum[:]), Format: "application/xml", Extension: "xml", Size: int64(len(meta))}
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
