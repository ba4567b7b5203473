package ers

import (
	"context"
	"crypto"
	"fmt"

	"github.com/conserva/conserva/timestamp"
)

// RenewTimestamps is timestamp renewal (RFC 4998 §5.2) for many records
// at once: each record's last chain gets a new archive timestamp whose
// reduced hash tree starts with the hashes of all the chain's timestamps
// (Bouncy Castle checks each of them there), over one hash tree of all
// the records and one TSA request per hash algorithm (one, unless the
// records' last chains differ). It returns the renewed records, new byte
// strings in the order given; the inputs are not changed.
//
// It checks the records' structure, not their validity: verify them
// (Verify) before renewing, or a broken proof is extended.
func RenewTimestamps(ctx context.Context, tsa timestamp.DigestAuthority, records [][]byte) ([][]byte, error) {
	ers := make([]*EvidenceRecord, len(records))
	byAlg := map[crypto.Hash][]int{}
	var algs []crypto.Hash
	for i, r := range records {
		er, err := Parse(r)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		alg, err := er.Chains[len(er.Chains)-1][0].hash()
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		if len(er.Chains[len(er.Chains)-1]) == maxStamps {
			return nil, fmt.Errorf("record %d: already %d timestamps in its last chain", i, maxStamps)
		}
		if _, ok := byAlg[alg]; !ok {
			algs = append(algs, alg)
		}
		byAlg[alg] = append(byAlg[alg], i)
		ers[i] = er
	}
	out := make([][]byte, len(records))
	for _, alg := range algs {
		idx := byAlg[alg]
		groups := make([][][]byte, len(idx))
		for k, i := range idx {
			last := ers[i].Chains[len(ers[i].Chains)-1]
			for _, ats := range last {
				groups[k] = append(groups[k], digest(alg, ats.TimeStamp))
			}
		}
		t, err := build(alg, groups)
		if err != nil {
			return nil, err
		}
		if _, err := t.Stamp(ctx, tsa); err != nil {
			return nil, err
		}
		for k, i := range idx {
			ats, err := t.archiveTimeStamp(k)
			if err != nil {
				return nil, err
			}
			er := ers[i]
			n := len(er.Chains) - 1
			er.Chains[n] = append(er.Chains[n][:len(er.Chains[n]):len(er.Chains[n])], ats)
			if out[i], err = er.Marshal(); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// HashRenewal is one record for RenewHashTree with its object's hash
// under the new algorithm, computed from the stored bytes.
type HashRenewal struct {
	Record   []byte
	DataHash []byte
}

// RenewHashTree is hash-tree renewal (RFC 4998 §5.3) for many records at
// once: for each record, the leaf H(H(data) || H(DER of all its chains))
// under alg (normally SHA-512), one hash tree over all the leaves, one TSA
// request, and a new chain per record; alg joins digestAlgorithms. It
// returns the renewed records in the order given.
//
// As with RenewTimestamps, verify the records (with the data) first.
func RenewHashTree(ctx context.Context, tsa timestamp.DigestAuthority, alg crypto.Hash, items []HashRenewal) ([][]byte, error) {
	algID, err := algorithmID(alg)
	if err != nil {
		return nil, err
	}
	ers := make([]*EvidenceRecord, len(items))
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
		ers[i] = er
	}
	t, err := Build(alg, leaves)
	if err != nil {
		return nil, err
	}
	if _, err := t.Stamp(ctx, tsa); err != nil {
		return nil, err
	}
	out := make([][]byte, len(items))
	for i, er := range ers {
		ats, err := t.archiveTimeStamp(i)
		if err != nil {
			return nil, err
		}
		er.Chains = append(er.Chains, Chain{ats})
		listed := false
		for _, a := range er.DigestAlgorithms {
			h, err := hashOf(a)
			listed = listed || err == nil && h == alg
		}
		if !listed {
			er.DigestAlgorithms = append(er.DigestAlgorithms, algID)
		}
		if out[i], err = er.Marshal(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
