package ers

import (
	"context"
	"crypto"
	"errors"
	"fmt"

	"github.com/conserva/conserva/timestamp"
)

// Renewal is a batch renewal in three steps (prepare, stamp, records), so
// that a caller can journal the timestamp after Stamp and, after a crash,
// prepare the same records again, Attach the journaled timestamp and write
// the records without a second TSA request. The tree of a batch does not
// depend on the order of its records.
type Renewal struct {
	tree    *Tree
	records []*EvidenceRecord
	algID   []byte
	hashes  bool // hash-tree renewal: a new chain; else a timestamp in the last chain
}

// PrepareTimestampRenewal prepares timestamp renewal (RFC 4998 §5.2): each
// record's last chain will get a new archive timestamp whose reduced hash
// tree starts with the hashes of every timestamp of that chain (Bouncy
// Castle checks each of them there), all records in one hash tree. The
// records' last chains must share one hash algorithm (renew SHA-256 and
// SHA-512 chains as two batches).
//
// It checks the records' structure, not their validity: verify them
// (Verify) before renewing, or a broken proof is extended.
func PrepareTimestampRenewal(records [][]byte) (*Renewal, error) {
	if len(records) == 0 {
		return nil, errors.New("ers: nothing to renew")
	}
	r := &Renewal{records: make([]*EvidenceRecord, len(records))}
	groups := make([][][]byte, len(records))
	var alg crypto.Hash
	for i, b := range records {
		er, err := Parse(b)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		last := er.Chains[len(er.Chains)-1]
		a, err := last[0].hash()
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		if i == 0 {
			alg = a
		} else if a != alg {
			return nil, fmt.Errorf("ers: record %d's last chain uses %v, record 0's %v: renew them in separate batches", i, a, alg)
		}
		if len(last) == maxStamps {
			return nil, fmt.Errorf("record %d: already %d timestamps in its last chain", i, maxStamps)
		}
		for _, ats := range last {
			groups[i] = append(groups[i], digest(alg, ats.TimeStamp))
		}
		r.records[i] = er
	}
	t, err := build(alg, groups)
	if err != nil {
		return nil, err
	}
	r.tree, r.algID = t, t.algID
	return r, nil
}

// HashRenewal is one record for hash-tree renewal with its object's hash
// under the new algorithm, computed from the stored bytes.
type HashRenewal struct {
	Record   []byte
	DataHash []byte
}

// PrepareHashTreeRenewal prepares hash-tree renewal (RFC 4998 §5.3): for
// each record the leaf H(H(data) || H(DER of all its chains)) under alg
// (normally SHA-512), all in one hash tree; each record will get a new
// chain, and alg joins its digestAlgorithms. As with timestamp renewal,
// verify the records (with the data) first.
func PrepareHashTreeRenewal(alg crypto.Hash, items []HashRenewal) (*Renewal, error) {
	if len(items) == 0 {
		return nil, errors.New("ers: nothing to renew")
	}
	r := &Renewal{records: make([]*EvidenceRecord, len(items)), hashes: true}
	leaves := make([][]byte, len(items))
	for i, it := range items {
		er, err := Parse(it.Record)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		if len(it.DataHash) != alg.Size() {
			return nil, fmt.Errorf("record %d: data hash of %d bytes, a %v hash has %d", i, len(it.DataHash), alg, alg.Size())
		}
		if len(er.Chains) == maxChains {
			return nil, fmt.Errorf("record %d: already %d chains", i, maxChains)
		}
		prev, err := chainsDigest(alg, er.Chains)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		leaves[i] = renewedLeaf(alg, it.DataHash, prev)
		r.records[i] = er
	}
	t, err := Build(alg, leaves)
	if err != nil {
		return nil, err
	}
	r.tree, r.algID = t, t.algID
	return r, nil
}

// Algorithm is the hash of the renewal's tree and timestamp.
func (r *Renewal) Algorithm() crypto.Hash { return r.tree.alg }

// Root is the renewal tree's root, the new timestamp's imprint.
func (r *Renewal) Root() []byte { return r.tree.Root() }

// Stamp gets the one timestamp of the batch and returns it (DER
// TimeStampToken) for the caller's journal.
func (r *Renewal) Stamp(ctx context.Context, tsa timestamp.DigestAuthority) ([]byte, error) {
	return r.tree.Stamp(ctx, tsa)
}

// Attach sets a timestamp obtained before (see Tree.Attach).
func (r *Renewal) Attach(token []byte) error { return r.tree.Attach(token) }

// Records are the renewed records, new byte strings in the order given.
func (r *Renewal) Records() ([][]byte, error) {
	out := make([][]byte, len(r.records))
	for i := range r.records {
		var err error
		if out[i], err = r.Record(i); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Record is the i-th renewed record alone: a renewal of 100,000 records
// need not hold them all.
func (r *Renewal) Record(i int) ([]byte, error) {
	if r.tree.token == nil {
		return nil, errors.New("ers: no timestamp attached to the renewal")
	}
	if i < 0 || i >= len(r.records) {
		return nil, fmt.Errorf("ers: no record %d in a renewal of %d", i, len(r.records))
	}
	old := r.records[i]
	ats := r.tree.archiveTimeStamp(i)
	// A copy: Records may be called again.
	er := *old
	er.Chains = append([]Chain(nil), old.Chains...)
	if r.hashes {
		er.Chains = append(er.Chains, Chain{ats})
		listed := false
		for _, a := range er.DigestAlgorithms {
			h, err := hashOf(a)
			listed = listed || err == nil && h == r.tree.alg
		}
		if !listed {
			er.DigestAlgorithms = append(append([][]byte(nil), er.DigestAlgorithms...), r.algID)
		}
	} else {
		n := len(er.Chains) - 1
		er.Chains[n] = append(append(Chain(nil), er.Chains[n]...), ats)
	}
	der, err := er.Marshal()
	if err != nil {
		return nil, err
	}
	if len(der) > MaxRecordSize {
		return nil, fmt.Errorf("ers: record %d would grow to %d bytes, beyond the limit of %d", i, len(der), MaxRecordSize)
	}
	return der, nil
}

// RenewTimestamps is timestamp renewal of many records with one TSA
// request: PrepareTimestampRenewal, Stamp, Records.
func RenewTimestamps(ctx context.Context, tsa timestamp.DigestAuthority, records [][]byte) ([][]byte, error) {
	r, err := PrepareTimestampRenewal(records)
	if err != nil {
		return nil, err
	}
	if _, err := r.Stamp(ctx, tsa); err != nil {
		return nil, err
	}
	return r.Records()
}

// RenewHashTree is hash-tree renewal of many records with one TSA
// request: PrepareHashTreeRenewal, Stamp, Records.
func RenewHashTree(ctx context.Context, tsa timestamp.DigestAuthority, alg crypto.Hash, items []HashRenewal) ([][]byte, error) {
	r, err := PrepareHashTreeRenewal(alg, items)
	if err != nil {
		return nil, err
	}
	if _, err := r.Stamp(ctx, tsa); err != nil {
		return nil, err
	}
	return r.Records()
}
