package archive

import (
	"bufio"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/conserva/conserva/ers"
	"github.com/conserva/conserva/internal/parallel"
	"github.com/conserva/conserva/segment"
	"github.com/conserva/conserva/sip"
	"github.com/conserva/conserva/storage"
	"github.com/conserva/conserva/timestamp"
)

// Evidence records (RFC 4998, package ers) of sealed packages.
//
// At the end of every seal run, one hash tree is built over every object of
// the packages that have no records yet (messages, metadata, index,
// signature, timestamp, chain files), one archive timestamp is obtained for
// its root, and each object gets its record inside its package:
//
//	packages/<id>/ers/<sha256>.ers          a message
//	packages/<id>/ers/index.xml.ers         index.xml (likewise the other package files)
//
// A renewal (renew.go) writes version n as <name>.<n>.ers next to them:
// nothing is rewritten. ers/index.xml[.<n>].ers is written last, after all
// the other records of its version are durable: its presence says the
// version is complete. That is read from the store, so a rebuilt catalog
// loses nothing.

// packageFiles are the package-level objects that get records, besides the
// messages and their metadata.
var packageFiles = []string{"index.xml", "index.xml.p7s", "index.xml.p7s.tsr", "signer-chain.pem", "tsa-chain.pem"}

// ersMarker is the record written last in each version.
const ersMarker = "index.xml"

const ersJournalKey = "ers-sealing"

// ersJournal is written before the archive timestamp is asked for, and
// again with the token before any record is stored: a seal killed at any
// point resumes with the same packages (hence the same tree) and the same
// token, so the records written by both runs are the same bytes.
type ersJournal struct {
	Packages []string `json:"packages"`
	Token    []byte   `json:"token,omitempty"` // DER TimeStampToken over the tree's root
}

// Metadata files are leaves of the tree but get no record of their own:
// index.xml's record proves them (the signed index lists their hashes), and
// 100,000 more files per package would double the seal's cost. Their
// records can still be made at any time from the package's objects and the
// archive timestamp, which every record of the package carries.

// leafOnly names, in a sealing run, an object that is only a leaf of the
// tree, without a record (see recordless): its key and name are not kept.
const leafOnly = "leaf/"

// ersObject is one object of a package with a record.
type ersObject struct {
	Package string
	Key     string // store key of the object
	Name    string // record name inside packages/<id>/ers/, without ".ers"
	SHA256  []byte
}

// ersKey is the store key of version v (from 1) of a record.
func ersKey(pkg, name string, v int) string {
	if v <= 1 {
		return "packages/" + pkg + "/ers/" + name + ".ers"
	}
	return "packages/" + pkg + "/ers/" + name + "." + strconv.Itoa(v) + ".ers"
}

// ersVersion is the latest complete version of a package's records, 0 when
// it has none.
func (a *Archive) ersVersion(ctx context.Context, pkg string) (int, error) {
	v := 0
	for {
		// Each version is a segment (format 2) or loose files with a marker
		// written last (format 1): a package sealed before segments may be
		// renewed into one.
		ok, err := a.segmentExists(ctx, ersSegmentKey(pkg, v+1))
		if err == nil && !ok {
			_, err = a.Store.Stat(ctx, ersKey(pkg, ersMarker, v+1))
			if errors.Is(err, storage.ErrNotFound) {
				return v, nil
			}
		}
		if err != nil {
			return v, err
		}
		v++
	}
}

// packageObjects lists the objects of a package that get records, with
// their SHA-256: the messages and metadata as the signed index states them
// (a message damaged since is then not covered, which audit names), the
// package files hashed from the store.
func (a *Archive) packageObjects(ctx context.Context, pkg string) ([]ersObject, error) {
	prefix := "packages/" + pkg + "/"
	var out []ersObject
	for _, f := range packageFiles {
		sum, err := a.hashObject(ctx, prefix+f)
		if err != nil {
			return nil, fmt.Errorf("package %s: %s: %w", pkg, f, err)
		}
		out = append(out, ersObject{Package: pkg, Key: prefix + f, Name: f, SHA256: sum})
	}
	// The index is read token by token, as audit reads it (indexstream.go):
	// 145 MB at 100,000 messages. What an index cut short listed is thrown
	// away with the error.
	rc, err := a.readEvidence(ctx, prefix+"index.xml")
	if err != nil {
		return nil, fmt.Errorf("package %s: index.xml: %w", pkg, err)
	}
	defer rc.Close()
	err = walkIndexFiles(bufio.NewReaderSize(rc, 64<<10), func(f indexFile) error {
		sum, err := hex.DecodeString(f.SHA256)
		if err != nil || len(sum) != sha256.Size {
			return fmt.Errorf("index.xml: bad hash %.80q for %.200q", f.SHA256, f.Path)
		}
		o := ersObject{Package: pkg, Key: f.Path, SHA256: sum}
		switch {
		case strings.HasPrefix(f.Path, "messages/"):
			o.Name = f.SHA256
		case strings.HasPrefix(f.Path, prefix):
			// meta/, aggregazioni/: leaves of the tree, without records
			o.Name = strings.TrimPrefix(f.Path, prefix)
		default:
			return fmt.Errorf("index.xml lists %.200q outside the package", f.Path)
		}
		out = append(out, o)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", pkg, err)
	}
	return out, nil
}

// hashObject is the SHA-256 of a stored object, read as a stream.
func (a *Archive) hashObject(ctx context.Context, key string) ([]byte, error) {
	rc, err := a.readEvidence(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	sum, err := storage.HashReader(rc)
	if err != nil {
		return nil, err
	}
	return hex.DecodeString(sum)
}

// keepObjects remembers what a package just sealed holds, as
// packageObjects would read it back from its index (but for the names of
// the files that are only leaves), so that the records of a run's packages
// need not parse their indexes again.
func (a *Archive) keepObjects(ctx context.Context, k *sealKit, pkg string, lists *packageLists) error {
	prefix := "packages/" + pkg + "/"
	var out []ersObject
	for _, f := range packageFiles {
		sum, err := a.hashObject(ctx, prefix+f)
		if err != nil {
			return fmt.Errorf("package %s: %s: %w", pkg, f, err)
		}
		out = append(out, ersObject{Package: pkg, Key: prefix + f, Name: f, SHA256: sum})
	}
	err := lists.messages.Each(func(f sip.File) error {
		sum, err := hex.DecodeString(f.ID)
		out = append(out, ersObject{Package: pkg, Key: f.Path, Name: f.ID, SHA256: sum})
		return err
	})
	if err != nil {
		return err
	}
	meta := func(f sip.File) error {
		sum, err := hex.DecodeString(f.SHA256)
		o := ersObject{Package: pkg, Key: f.Path, Name: strings.TrimPrefix(f.Path, prefix), SHA256: sum}
		if recordless(o.Name) && !strings.HasPrefix(o.Name, validationDir) {
			// Only a leaf of the tree (200,000 of them at 100,000
			// messages): its hash is all that is read of it.
			o.Key, o.Name = "", leafOnly
		}
		out = append(out, o)
		return err
	}
	if err := lists.metadata.Each(meta); err != nil {
		return err
	}
	if err := sip.Files(lists.accessLog).Each(meta); err != nil {
		return err
	}
	if k.sealed == nil {
		k.sealed = map[string][]ersObject{}
	}
	k.sealed[pkg] = out
	return nil
}

// sealEvidence gives records to every sealed package that has none: one
// tree, one TSA request, whatever the number of packages.
func (a *Archive) sealEvidence(ctx context.Context, k *sealKit) error {
	var j ersJournal
	found, err := a.Catalog.getJSON(bucketMeta, ersJournalKey, &j)
	if err != nil {
		return err
	}
	read := map[string][]ersObject{}
	if !found {
		err := a.Catalog.Packages(func(p PackageRecord) error {
			v, err := a.ersVersion(ctx, p.ID)
			if err != nil || v > 0 {
				return err
			}
			o, ok := k.sealed[p.ID]
			if !ok {
				if o, err = a.packageObjects(ctx, p.ID); err != nil {
					// A broken package (audit names it) must not keep
					// every other package from its records.
					a.Log.Warn("no evidence records for a package that cannot be read", "package", p.ID, "err", err)
					return nil
				}
			}
			read[p.ID] = o
			j.Packages = append(j.Packages, p.ID)
			return nil
		})
		if err != nil || len(j.Packages) == 0 {
			return err
		}
		if err := a.Catalog.putJSON(bucketMeta, ersJournalKey, j); err != nil {
			return err
		}
	} else {
		a.Log.Warn("resuming interrupted evidence records", "packages", len(j.Packages))
	}
	var objs []ersObject
	for _, p := range j.Packages {
		o, ok := read[p]
		if !ok {
			if o, err = a.packageObjects(ctx, p); err != nil {
				return err
			}
		}
		objs = append(objs, o...)
		// Held once, in objs.
		delete(read, p)
		delete(k.sealed, p)
	}
	leaves := make([][]byte, len(objs))
	for i, o := range objs {
		leaves[i] = o.SHA256
	}
	tree, err := ers.Build(crypto.SHA256, leaves)
	if err != nil {
		return err
	}
	// Judged after the timestamp is made: a token is never later than
	// the verification time.
	verifier := func() *ers.Verifier { return &ers.Verifier{Roots: k.roots.TSAPool(), At: time.Now()} }
	if j.Token == nil {
		tsa, ok := k.tsa.(timestamp.DigestAuthority)
		if !ok {
			return fmt.Errorf("the TSA %s cannot timestamp a digest", k.tsaName)
		}
		tok, err := tree.Stamp(ctx, tsa)
		if err != nil {
			return fmt.Errorf("archive timestamp: %w", err)
		}
		// Checked against the pinned roots before it is journaled.
		rec, err := tree.Record(0)
		if err == nil {
			_, err = verifier().Verify(ctx, rec, ers.Digests{crypto.SHA256: leaves[0]})
		}
		if err == nil {
			err = a.refuseRevokedToken(ctx, k, tok)
		}
		if err != nil {
			return fmt.Errorf("refusing the archive timestamp: %w", err)
		}
		j.Token = tok
		if err := a.Catalog.putJSON(bucketMeta, ersJournalKey, j); err != nil {
			return err
		}
	} else if err := tree.Attach(j.Token); err != nil {
		return fmt.Errorf("the journaled archive timestamp does not fit the packages %v any more: %w", j.Packages, err)
	}
	v := verifier()
	infos, err := a.packagesCryptoInfos(ctx, objs)
	if err != nil {
		return err
	}
	err = a.writeRecords(ctx, objs, 1, func(i int) ([]byte, error) {
		rec, err := tree.Record(i)
		if err == nil {
			rec, err = withCryptoInfos(rec, infos[objs[i].Package])
		}
		if err != nil {
			return nil, err
		}
		if _, err := v.Verify(ctx, rec, ers.Digests{crypto.SHA256: leaves[i]}); err != nil {
			return nil, fmt.Errorf("refusing the evidence record of %s: %w", objs[i].Key, err)
		}
		return rec, nil
	})
	if err != nil {
		return err
	}
	return a.Catalog.deleteKey(bucketMeta, ersJournalKey)
}

// writeRecords stores version v of every object's record, made by rec(i),
// in one segment per package (segments.go): records made in parallel,
// written in order, each segment durable when stored. A segment is written
// whole or not at all, so its presence says its version is complete.
func (a *Archive) writeRecords(ctx context.Context, objs []ersObject, v int, rec func(i int) ([]byte, error)) error {
	var pkgs []string
	by := map[string][]int{}
	for i, o := range objs {
		if recordless(o.Name) {
			continue // leaves only: see metaRecords
		}
		if _, ok := by[o.Package]; !ok {
			pkgs = append(pkgs, o.Package)
		}
		by[o.Package] = append(by[o.Package], i)
	}
	for _, p := range pkgs {
		key := ersSegmentKey(p, v)
		// Stored by a run killed after it: the same tree and token made it.
		if ok, err := a.segmentExists(ctx, key); err != nil || ok {
			if err != nil {
				return err
			}
			continue
		}
		idx := by[p]
		dir := "packages/" + p + "/ers/"
		_, err := a.putSegment(ctx, key, packageTime(p), func(w *segment.Writer) error {
			return parallel.Ordered(ctx, len(idx), 2*runtime.GOMAXPROCS(0), func(n int) ([]byte, error) {
				return rec(idx[n])
			}, func(n int, data []byte) error {
				_, err := w.Add(strings.TrimPrefix(ersKey(p, objs[idx[n]].Name, v), dir), data)
				return err
			})
		})
		if err != nil {
			return err
		}
	}
	if s, ok := a.Store.(storage.DirSyncer); ok {
		return s.SyncDirs(ctx)
	}
	return nil
}

// readERS reads a record, refusing anything larger than a record can be.
func (a *Archive) readERS(ctx context.Context, key string) ([]byte, error) {
	return readERSWith(ctx, key, a.readEvidence)
}

// readERSWith is readERS reading through open.
func readERSWith(ctx context.Context, key string, open func(context.Context, string) (io.ReadCloser, error)) ([]byte, error) {
	rc, err := open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, ers.MaxRecordSize+1))
	if err == nil && len(data) > ers.MaxRecordSize {
		err = fmt.Errorf("%s: larger than %d bytes", key, ers.MaxRecordSize)
	}
	return data, err
}

// recordless says whether a package object is a leaf of the tree without a
// record of its own: the files in the package's sub-folders (meta/,
// aggregazioni/), which the index lists with their hashes.
func recordless(name string) bool { return strings.Contains(name, "/") }
