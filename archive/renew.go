package archive

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/conserva/conserva/ers"
	"github.com/conserva/conserva/internal/parallel"
	"github.com/conserva/conserva/storage"
	"github.com/conserva/conserva/timestamp"
)

// Renewal of evidence records (RFC 4998 §5). A run renews the latest
// records of every package due (or all with Force, or all for a hash-tree
// renewal) with one tree and one TSA request, and writes version n+1 of
// each as a new object (ers/<name>.<n+1>.ers, seal_ers.go): nothing is
// rewritten, the older versions stay.

// RenewOptions choose what a renewal run does.
type RenewOptions struct {
	// Force renews every package's records now, due or not.
	Force bool
	// Digest, when set (crypto.SHA512, crypto.SHA3_512), is hash-tree
	// renewal (§5.3) of every package: each object's stored bytes are
	// hashed again with it. Zero is timestamp renewal (§5.2).
	Digest crypto.Hash
	TSAURL string // as for Seal
	Roots  RootsOptions
	// Revocation as for Seal: fresh validation data are fetched for each run.
	Revocation string
	// Progress, when set, is called with the number of records done.
	Progress func(done int)
}

// RenewSummary says what a renewal run did.
type RenewSummary struct {
	Kind     string   `json:"kind"` // "timestamp renewal", "hash-tree renewal", or "" when nothing was due
	Digest   string   `json:"digest,omitempty"`
	Packages []string `json:"packages"` // renewed
	Records  int      `json:"records"`  // new record versions written
	// Skipped are records not renewed, with the reason (an invalid record
	// must not be extended: audit names it).
	Skipped []string `json:"skipped,omitempty"`
	// Later are packages due whose last chain uses another hash: renewed by
	// the next run (one TSA request per run).
	Later []string `json:"later,omitempty"`
	// NextDue is when the renewed records are due again (their new
	// timestamp's certificate expiry minus the margin).
	NextDue  time.Time `json:"next_due,omitempty"`
	Resumed  bool      `json:"resumed,omitempty"`
	Warnings []string  `json:"warnings,omitempty"`
}

const renewJournalKey = "ers-renewing"

// renewJournal is written before the TSA is asked, and again with its
// token before any record is written: a run killed at any point resumes
// the same batch (the same records, hence the same tree) with the same
// token, and writes the same bytes.
type renewJournal struct {
	Kind     string       `json:"kind"`
	Digest   string       `json:"digest,omitempty"`
	Packages []renewedPkg `json:"packages"`
	Skipped  []string     `json:"skipped,omitempty"` // record keys left out, with "key: reason"
	Token    []byte       `json:"token,omitempty"`
	// CryptoInfos: the validation data fetched for this run (validation.go),
	// kept so that a resumed run writes the same records.
	CryptoInfos []byte `json:"crypto_infos,omitempty"`
}

type renewedPkg struct {
	ID   string `json:"id"`
	From int    `json:"from"` // the version renewed; the new one is From+1
}

var renewDigests = map[string]crypto.Hash{"sha256": crypto.SHA256, "sha384": crypto.SHA384, "sha512": crypto.SHA512, "sha3-256": crypto.SHA3_256, "sha3-512": crypto.SHA3_512}

// ParseDigest reads a --digest name (sha512, sha3-512, …).
func ParseDigest(s string) (crypto.Hash, error) {
	h, ok := renewDigests[strings.ToLower(s)]
	if !ok || !h.Available() {
		return 0, fmt.Errorf("unknown digest %q (sha512, sha3-512, sha384, sha256, sha3-256)", s)
	}
	return h, nil
}

func digestName(h crypto.Hash) string {
	for n, v := range renewDigests {
		if v == h {
			return n
		}
	}
	return h.String()
}

// Renew renews evidence records: see RenewOptions.
func (a *Archive) Renew(ctx context.Context, opts RenewOptions) (RenewSummary, error) {
	var sum RenewSummary
	k, err := a.sealKeys(ctx, SealOptions{TSAURL: opts.TSAURL, Roots: opts.Roots, Revocation: opts.Revocation})
	if err != nil {
		return sum, err
	}
	sum.Warnings = k.warnings
	margin, err := a.renewMargin()
	if err != nil {
		return sum, err
	}
	now := time.Now()
	vf := &ers.Verifier{Roots: k.roots.TSAPool(), At: now}
	var j renewJournal
	found, err := a.Catalog.getJSON(bucketMeta, renewJournalKey, &j)
	if err != nil {
		return sum, err
	}
	if found {
		a.Log.Warn("resuming an interrupted renewal", "kind", j.Kind, "packages", len(j.Packages))
		sum.Resumed = true
	} else {
		if j, sum.Later, err = a.dueForRenewal(ctx, vf, opts, margin.Until(now)); err != nil {
			return sum, err
		}
		if len(j.Packages) == 0 {
			return sum, nil
		}
	}
	sum.Kind, sum.Digest = j.Kind, j.Digest
	items, err := a.renewalItems(ctx, vf, &j, opts.Progress)
	if err != nil {
		return sum, err
	}
	if j.Token == nil {
		// Fresh validation data of the chains, a revoked one refused,
		// before the TSA is asked (validation.go).
		if err := a.chainValidation(ctx, k, "renew"); err != nil {
			return sum, err
		}
		sum.Warnings = k.warnings
		if j.CryptoInfos == nil {
			if j.CryptoInfos, err = k.validation.CryptoInfos(); err != nil {
				return sum, err
			}
			if len(j.CryptoInfos) > maxCryptoInfos {
				j.CryptoInfos = nil
			}
		}
		found = false // journaled again below, with the validation data
	}
	if !found {
		// The batch is fixed (with what was left out) before the TSA is asked.
		if err := a.Catalog.putJSON(bucketMeta, renewJournalKey, j); err != nil {
			return sum, err
		}
	}
	sum.Skipped = j.Skipped
	for _, p := range j.Packages {
		sum.Packages = append(sum.Packages, p.ID)
	}
	if len(items) == 0 {
		return sum, a.Catalog.deleteKey(bucketMeta, renewJournalKey)
	}
	var r *ers.Renewal
	if j.Kind == kindHashTree {
		alg, err := ParseDigest(j.Digest)
		if err != nil {
			return sum, err
		}
		hr := make([]ers.HashRenewal, len(items))
		for i, it := range items {
			hr[i] = ers.HashRenewal{Record: it.record, DataHash: it.digests[alg]}
		}
		r, err = ers.PrepareHashTreeRenewal(alg, hr)
		if err != nil {
			return sum, err
		}
	} else {
		recs := make([][]byte, len(items))
		for i, it := range items {
			recs[i] = it.record
		}
		if r, err = ers.PrepareTimestampRenewal(recs); err != nil {
			return sum, err
		}
	}
	if j.Token == nil {
		tsa, ok := k.tsa.(timestamp.DigestAuthority)
		if !ok {
			return sum, fmt.Errorf("the TSA %s cannot timestamp a digest", k.tsaName)
		}
		tok, err := r.Stamp(ctx, tsa)
		if err != nil {
			return sum, fmt.Errorf("renewal timestamp: %w", err)
		}
		first, err := r.Record(0)
		if err == nil {
			// Judged now, not at the start of the run: the new timestamp
			// is later than that.
			check := &ers.Verifier{Roots: vf.Roots, At: time.Now()}
			_, err = check.Verify(ctx, first, items[0].digests)
		}
		if err == nil {
			err = a.refuseRevokedToken(ctx, k, tok)
		}
		if err != nil {
			return sum, fmt.Errorf("refusing the renewal timestamp: %w", err)
		}
		j.Token = tok
		if err := a.Catalog.putJSON(bucketMeta, renewJournalKey, j); err != nil {
			return sum, err
		}
	} else if err := r.Attach(j.Token); err != nil {
		return sum, fmt.Errorf("the journaled renewal timestamp does not fit the records any more: %w", err)
	}
	// Each renewed record is made as its segment is written: 100,000 of
	// them are not held at once.
	renewed := func(i int) ([]byte, error) {
		rec, err := r.Record(i)
		if err != nil {
			return nil, err
		}
		return withCryptoInfos(rec, j.CryptoInfos)
	}
	vf = &ers.Verifier{Roots: k.roots.TSAPool(), At: time.Now()}
	objs := make([]ersObject, len(items))
	next := map[string]int{}
	for _, p := range j.Packages {
		next[p.ID] = p.From + 1
	}
	for i, it := range items {
		objs[i] = it.obj
	}
	var first *ers.Result
	var mu sync.Mutex
	done := 0
	// Each package's records get their own version number: writeRecords
	// per version.
	byVersion := map[int][]int{}
	for i, o := range objs {
		byVersion[next[o.Package]] = append(byVersion[next[o.Package]], i)
	}
	for v, idx := range byVersion {
		sub := make([]ersObject, len(idx))
		for n, i := range idx {
			sub[n] = objs[i]
		}
		err := a.writeRecords(ctx, sub, v, func(n int) ([]byte, error) {
			i := idx[n]
			rec, err := renewed(i)
			if err != nil {
				return nil, err
			}
			res, err := vf.Verify(ctx, rec, items[i].digests)
			if err != nil {
				return nil, fmt.Errorf("refusing the renewed record of %s: %w", objs[i].Key, err)
			}
			mu.Lock()
			if first == nil {
				first = res
			}
			done++
			if opts.Progress != nil {
				opts.Progress(done)
			}
			mu.Unlock()
			return rec, nil
		})
		if err != nil {
			return sum, err
		}
	}
	for _, p := range j.Packages {
		if err := a.noteRenewed(p.ID, p.From+1); err != nil {
			return sum, err
		}
	}
	sum.Records = len(items)
	if first != nil {
		sum.NextDue = first.Expires().AddDate(-margin.Years, 0, -margin.Days).UTC()
	}
	return sum, a.Catalog.deleteKey(bucketMeta, renewJournalKey)
}

const (
	kindTimestamp = "timestamp renewal"
	kindHashTree  = "hash-tree renewal"
)

// dueForRenewal picks the packages to renew: all for hash-tree renewal or
// Force, else those whose latest records' proof of time lapses before due.
// One TSA request per run: timestamp renewal takes the packages whose last
// chain has the hash of the first one due, and leaves the others for later.
func (a *Archive) dueForRenewal(ctx context.Context, vf *ers.Verifier, opts RenewOptions, due time.Time) (renewJournal, []string, error) {
	j := renewJournal{Kind: kindTimestamp}
	if opts.Digest != 0 {
		j.Kind, j.Digest = kindHashTree, digestName(opts.Digest)
	}
	var later []string
	var alg crypto.Hash
	err := a.Catalog.Packages(func(p PackageRecord) error {
		v, err := a.ersVersion(ctx, p.ID)
		if err != nil || v == 0 {
			return err // none yet: the next seal's business
		}
		if j.Kind == kindHashTree {
			j.Packages = append(j.Packages, renewedPkg{ID: p.ID, From: v})
			return nil
		}
		// One small file's record stands for the package (all its records
		// share their timestamps): run checks every package every night,
		// and index.xml can be tens of megabytes.
		const standIn = "index.xml.p7s.tsr"
		rec, err := a.readERS(ctx, ersKey(p.ID, standIn, v))
		if err != nil {
			return fmt.Errorf("package %s: %w", p.ID, err)
		}
		data, err := a.readAll(ctx, "packages/"+p.ID+"/"+standIn)
		if err != nil {
			return fmt.Errorf("package %s: %w", p.ID, err)
		}
		res, err := vf.VerifyData(ctx, rec, data)
		if err != nil {
			// Not extended: a broken proof stays broken; audit names it.
			a.Log.Warn("not renewing: the package's evidence record does not verify", "package", p.ID, "err", err)
			return nil
		}
		if !opts.Force && !res.Expires().Before(due) {
			return nil
		}
		last := res.Latest().Digest
		if alg == 0 {
			alg = last
		}
		if last != alg {
			later = append(later, p.ID)
			return nil
		}
		j.Packages = append(j.Packages, renewedPkg{ID: p.ID, From: v})
		return nil
	})
	return j, later, err
}

// renewItem is one record to renew, with its object's hashes.
type renewItem struct {
	obj     ersObject
	record  []byte
	digests ers.Digests
}

// renewalItems reads every record of the batch and its object, and
// verifies them: a record that does not verify is left out (named in
// j.Skipped, which the journal keeps so a resumed run leaves out the same).
func (a *Archive) renewalItems(ctx context.Context, vf *ers.Verifier, j *renewJournal, progress func(int)) ([]renewItem, error) {
	var extra crypto.Hash
	if j.Kind == kindHashTree {
		var err error
		if extra, err = ParseDigest(j.Digest); err != nil {
			return nil, err
		}
	}
	skip := map[string]bool{}
	for _, s := range j.Skipped {
		skip[strings.SplitN(s, ": ", 2)[0]] = true
	}
	resumed := j.Token != nil || len(j.Skipped) > 0
	var objs []ersObject
	var from []int
	for _, p := range j.Packages {
		o, err := a.packageObjects(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		for _, x := range o {
			if recordless(x.Name) {
				continue // no records: seal_ers.go
			}
			objs = append(objs, x)
			from = append(from, p.From)
		}
	}
	items := make([]renewItem, len(objs))
	bad := make([]string, len(objs))
	err := parallel.ForEach(ctx, len(objs), 2*runtime.GOMAXPROCS(0), func(i int) error {
		key := ersKey(objs[i].Package, objs[i].Name, from[i])
		if skip[key] {
			return nil
		}
		var err error
		items[i], bad[i], err = a.renewalItem(ctx, vf, objs[i], key, extra)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []renewItem
	for i := range objs {
		switch {
		case bad[i] != "" && resumed && !skip[ersKey(objs[i].Package, objs[i].Name, from[i])]:
			return nil, fmt.Errorf("resuming the renewal: %s", bad[i])
		case bad[i] != "":
			j.Skipped = append(j.Skipped, bad[i])
		case items[i].record != nil:
			out = append(out, items[i])
		}
	}
	sort.Strings(j.Skipped)
	return out, nil
}

// renewalItem reads and checks one record. A record that does not verify
// gives a reason, not an error; an unreadable store is an error.
func (a *Archive) renewalItem(ctx context.Context, vf *ers.Verifier, o ersObject, key string, extra crypto.Hash) (renewItem, string, error) {
	rec, err := a.readERS(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return renewItem{}, key + ": missing", nil
	}
	if err != nil {
		return renewItem{}, "", err
	}
	er, err := ers.Parse(rec)
	if err != nil {
		return renewItem{}, key + ": " + err.Error(), nil
	}
	algs, err := er.Algorithms()
	if err != nil {
		return renewItem{}, key + ": " + err.Error(), nil
	}
	if extra != 0 {
		algs = append(algs, extra)
	}
	rc, err := a.readEvidence(ctx, o.Key)
	if errors.Is(err, storage.ErrNotFound) {
		return renewItem{}, key + ": " + o.Key + " missing from the store", nil
	}
	if err != nil {
		return renewItem{}, "", err
	}
	d, err := ers.DigestsOf(rc, algs...)
	rc.Close()
	if err != nil {
		return renewItem{}, "", fmt.Errorf("%s: %w", o.Key, err)
	}
	if _, err := vf.Verify(ctx, rec, d); err != nil {
		return renewItem{}, key + ": " + err.Error(), nil
	}
	return renewItem{obj: o, record: rec, digests: d}, "", nil
}

// noteRenewed records in the package's catalog record that its records
// now go to version v (audit names a store that has fewer).
func (a *Archive) noteRenewed(pkg string, v int) error {
	var pr PackageRecord
	ok, err := a.Catalog.getJSON(bucketPackages, pkg, &pr)
	if err != nil || !ok || pr.Renewed >= v {
		return err
	}
	pr.Renewed = v
	return a.Catalog.putJSON(bucketPackages, pkg, pr)
}
