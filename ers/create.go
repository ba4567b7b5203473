package ers

import (
	"bytes"
	"context"
	"crypto"
	"fmt"

	"github.com/notaryproject/tspclient-go"

	"github.com/conserva/conserva/timestamp"
)

// Stamp asks tsa for one timestamp over the tree's root (the imprint is
// the root itself, under the tree's hash) and attaches it. It returns the
// token (DER ContentInfo), which a caller may journal to resume later with
// Attach.
func (t *Tree) Stamp(ctx context.Context, tsa timestamp.DigestAuthority) ([]byte, error) {
	tok, err := tsa.TimestampDigest(ctx, t.alg, t.Root())
	if err != nil {
		return nil, fmt.Errorf("ers: archive timestamp: %w", err)
	}
	ct, err := tok.TimeStampToken()
	if err != nil {
		return nil, fmt.Errorf("ers: archive timestamp: %w", err)
	}
	return ct, t.Attach(ct)
}

// Attach sets the root's timestamp (a DER TimeStampToken ContentInfo)
// after checking that its imprint is the root under the tree's hash. It
// does not judge the TSA: Verify does, against the configured roots.
func (t *Tree) Attach(token []byte) error {
	if len(token) > MaxRecordSize/2 {
		return fmt.Errorf("ers: a timestamp token of %d bytes leaves no room in a record", len(token))
	}
	if err := checkImprint(token, t.alg, t.Root()); err != nil {
		return fmt.Errorf("ers: %w", err)
	}
	t.token = bytes.Clone(token)
	return nil
}

// checkImprint parses token and checks its imprint is digest under alg.
func checkImprint(token []byte, alg crypto.Hash, digest []byte) error {
	if err := timestamp.CheckDER(token); err != nil {
		return fmt.Errorf("timestamp token is not DER: %w", err)
	}
	st, err := tspclient.ParseSignedToken(token)
	if err != nil {
		return fmt.Errorf("timestamp token: %w", err)
	}
	info, err := st.Info()
	if err != nil {
		return fmt.Errorf("timestamp token: %w", err)
	}
	return imprintIs(info, alg, digest)
}

func imprintIs(info *tspclient.TSTInfo, alg crypto.Hash, digest []byte) error {
	h, ok := timestamp.HashOf(info.MessageImprint.HashAlgorithm)
	if !ok || h != alg {
		return fmt.Errorf("timestamp imprint algorithm %v, the chain uses %v", info.MessageImprint.HashAlgorithm.Algorithm, alg)
	}
	if p := info.MessageImprint.HashAlgorithm.Parameters.FullBytes; len(p) != 0 && string(p) != "\x05\x00" {
		return fmt.Errorf("timestamp imprint algorithm with parameters")
	}
	if !bytes.Equal(info.MessageImprint.HashedMessage, digest) {
		return fmt.Errorf("timestamp imprint %x is not the hash-tree root %x", info.MessageImprint.HashedMessage, digest)
	}
	return nil
}

// Record is the DER evidence record of leaf i (in the order given to
// Build): version 1, the tree's algorithm, one chain holding one archive
// timestamp with leaf i's reduced hash tree and the attached timestamp.
func (t *Tree) Record(i int) ([]byte, error) {
	if t.token == nil {
		return nil, fmt.Errorf("ers: no timestamp attached to the tree")
	}
	if i < 0 || i >= len(t.groups) {
		return nil, fmt.Errorf("ers: leaf %d of %d", i, len(t.groups))
	}
	er := &EvidenceRecord{DigestAlgorithms: [][]byte{t.algID}, Chains: []Chain{{t.archiveTimeStamp(i)}}}
	return er.Marshal()
}

func (t *Tree) archiveTimeStamp(i int) *ArchiveTimeStamp {
	return &ArchiveTimeStamp{DigestAlgorithm: t.algID, ReducedHashtree: t.Reduced(i), TimeStamp: t.token}
}

// Create builds the tree over leaves (each one object's hash under alg),
// gets one timestamp for its root and returns every leaf's evidence
// record, in the order of leaves.
func Create(ctx context.Context, tsa timestamp.DigestAuthority, alg crypto.Hash, leaves [][]byte) ([][]byte, error) {
	t, err := Build(alg, leaves)
	if err != nil {
		return nil, err
	}
	if _, err := t.Stamp(ctx, tsa); err != nil {
		return nil, err
	}
	out := make([][]byte, len(leaves))
	for i := range leaves {
		if out[i], err = t.Record(i); err != nil {
			return nil, err
		}
	}
	return out, nil
}
