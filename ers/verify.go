package ers

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/notaryproject/tspclient-go"
	"golang.org/x/crypto/cryptobyte"
)

// Verification outcomes, for errors.Is: a record that does not prove its
// data (damaged record or data, broken chain, expired proof) is invalid;
// one whose timestamps are sound but signed by a TSA outside the
// configured roots is untrusted.
var (
	ErrInvalid   = errors.New("invalid evidence record")
	ErrUntrusted = errors.New("untrusted archive timestamp")
	// ErrNotCovered (also ErrInvalid) says the record is intact, its
	// timestamp valid, but the data is not what was timestamped: the data
	// changed, or the record belongs to other data.
	ErrNotCovered = fmt.Errorf("%w: the data is not what was timestamped", ErrInvalid)
)

// Digests are one object's hashes, one per algorithm its record uses.
type Digests map[crypto.Hash][]byte

// DigestsOf hashes r once under every algorithm in algs.
func DigestsOf(r io.Reader, algs ...crypto.Hash) (Digests, error) {
	var ws []io.Writer
	hs := map[crypto.Hash]interface{ Sum([]byte) []byte }{}
	for _, a := range algs {
		if _, ok := hs[a]; ok {
			continue
		}
		if !a.Available() {
			return nil, fmt.Errorf("ers: hash %v unavailable", a)
		}
		h := a.New()
		hs[a] = h
		ws = append(ws, h)
	}
	if _, err := io.Copy(io.MultiWriter(ws...), r); err != nil {
		return nil, err
	}
	d := Digests{}
	for a, h := range hs {
		d[a] = h.Sum(nil)
	}
	return d, nil
}

// Algorithms are the hashes of the data the record's chains need, oldest
// chain first (SHA-256, then SHA-512 after a hash-tree renewal, …).
func (er *EvidenceRecord) Algorithms() ([]crypto.Hash, error) {
	var out []crypto.Hash
	for i, c := range er.Chains {
		h, err := c[0].hash()
		if err != nil {
			return nil, fmt.Errorf("ers: chain %d: %w", i+1, err)
		}
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out, nil
}

// hash is the archive timestamp's algorithm: its digestAlgorithm field,
// or else its timestamp's imprint algorithm (RFC 4998 §4.1).
func (ats *ArchiveTimeStamp) hash() (crypto.Hash, error) {
	if ats.DigestAlgorithm != nil {
		return hashOf(ats.DigestAlgorithm)
	}
	st, err := tspclient.ParseSignedToken(ats.TimeStamp)
	if err != nil {
		return 0, fmt.Errorf("timestamp token: %w", err)
	}
	info, err := st.Info()
	if err != nil {
		return 0, fmt.Errorf("timestamp token: %w", err)
	}
	alg, err := asn1AlgorithmID(info)
	if err != nil {
		return 0, err
	}
	return hashOf(alg)
}

// Stamp describes one verified archive timestamp.
type Stamp struct {
	Chain, Index int         // position in the record, from 0
	Kind         string      // "initial", "timestamp renewal" or "hash-tree renewal"
	Time         time.Time   // genTime
	TSA          string      // subject of the TSA certificate
	Digest       crypto.Hash // the chain's hash algorithm
	// NotAfter is the earliest expiry on the TSA certificate's path to
	// the configured root: the newest timestamp must be renewed before.
	NotAfter time.Time
}

// Result lists a valid record's archive timestamps, oldest first.
type Result struct {
	Stamps []Stamp
}

// Latest is the newest archive timestamp: the one that must be renewed.
func (r *Result) Latest() Stamp { return r.Stamps[len(r.Stamps)-1] }

// Expires is when the proof of time lapses unless renewed before.
func (r *Result) Expires() time.Time { return r.Latest().NotAfter }

// Verifier checks records against trust anchors at a given time. Records
// of one seal share their timestamp, which is checked once per Verifier;
// a Verifier is safe for concurrent use.
type Verifier struct {
	Roots *x509.CertPool // TSA trust anchors, from configuration
	At    time.Time      // when the proof must hold (normally now)

	mu    sync.Mutex
	cache map[[32]byte]*checkedToken
}

type checkedToken struct {
	info     *tspclient.TSTInfo
	subject  string
	notAfter time.Time
	err      error
}

// VerifyData checks a record against the data's bytes, hashing them under
// every algorithm the record uses.
func VerifyData(ctx context.Context, record, data []byte, roots *x509.CertPool, at time.Time) (*Result, error) {
	return (&Verifier{Roots: roots, At: at}).VerifyData(ctx, record, data)
}

// Verify checks a record against the data's precomputed hashes.
func Verify(ctx context.Context, record []byte, data Digests, roots *x509.CertPool, at time.Time) (*Result, error) {
	return (&Verifier{Roots: roots, At: at}).Verify(ctx, record, data)
}

// VerifyData is Verify over the data's bytes.
func (v *Verifier) VerifyData(ctx context.Context, record, data []byte) (*Result, error) {
	return v.VerifyReader(ctx, record, bytes.NewReader(data))
}

// VerifyReader is Verify over data read from r (a stored object, read
// once whatever the number of hash algorithms).
func (v *Verifier) VerifyReader(ctx context.Context, record []byte, r io.Reader) (*Result, error) {
	er, err := Parse(record)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	algs, err := er.Algorithms()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	d, err := DigestsOf(r, algs...)
	if err != nil {
		return nil, fmt.Errorf("ers: reading the data: %w", err)
	}
	return v.check(ctx, er, d)
}

// Verify checks that record proves the existence of the data whose
// hashes are given, at v.At:
//   - every chain: its first timestamp covers the data's hash (from the
//     second chain on: H(H(data) || H(all earlier chains)), RFC 4998 §5.3)
//     through the reduced hash tree; every later timestamp of the chain
//     covers the hashes of all earlier timestamps of the chain (§5.2);
//   - every timestamp: a valid token whose imprint is the tree's root under
//     the chain's algorithm, signed by a TSA whose certificate chains to
//     v.Roots (never to the token's own certificates alone) and was valid
//     at the timestamp's genTime;
//   - renewal in time: each timestamp's TSA path was still valid when the
//     next timestamp was made, and the newest one is still valid at v.At.
func (v *Verifier) Verify(ctx context.Context, record []byte, data Digests) (*Result, error) {
	er, err := Parse(record)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return v.check(ctx, er, data)
}

func (v *Verifier) check(ctx context.Context, er *EvidenceRecord, data Digests) (*Result, error) {
	if v.Roots == nil {
		return nil, errors.New("ers: no TSA roots configured")
	}
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	if er.EncryptionInfo != nil {
		return nil, invalid("records of encrypted data (encryptionInfo) are not supported")
	}
	listed := map[crypto.Hash]bool{}
	for _, a := range er.DigestAlgorithms {
		h, err := hashOf(a)
		if err != nil {
			return nil, invalid("digestAlgorithms: %v", err)
		}
		listed[h] = true
	}
	res := &Result{}
	for ci, chain := range er.Chains {
		alg, err := chain[0].hash()
		if err != nil {
			return nil, invalid("chain %d: %v", ci+1, err)
		}
		if !listed[alg] {
			return nil, invalid("chain %d uses %v, not listed in digestAlgorithms", ci+1, alg)
		}
		h, ok := data[alg]
		if !ok || len(h) != alg.Size() {
			return nil, fmt.Errorf("ers: chain %d needs the data's %v hash", ci+1, alg)
		}
		kind := "initial"
		if ci > 0 {
			prev, err := chainsDigest(alg, er.Chains[:ci])
			if err != nil {
				return nil, invalid("chain %d: %v", ci+1, err)
			}
			h = renewedLeaf(alg, h, prev)
			kind = "hash-tree renewal"
		}
		for ai, ats := range chain {
			where := fmt.Sprintf("chain %d, archive timestamp %d", ci+1, ai+1)
			if a, err := ats.hash(); err != nil || a != alg {
				return nil, invalid("%s: digest algorithm differs from its chain's (%v)", where, alg)
			}
			covered := [][]byte{h}
			if ai > 0 {
				kind = "timestamp renewal"
				covered = covered[:0]
				for _, old := range chain[:ai] {
					covered = append(covered, digest(alg, old.TimeStamp))
				}
			}
			// The root from the tree alone, checked against the signed
			// imprint, then the coverage: a failure of the latter alone
			// means the data is not what was stamped.
			root, err := rootCovering(alg, ats.ReducedHashtree, covered)
			if err != nil {
				return nil, invalid("%s: %v", where, err)
			}
			tok := v.token(ctx, ats.TimeStamp)
			if tok.err != nil {
				return nil, fmt.Errorf("%s: %w", where, tok.err)
			}
			if err := imprintIs(tok.info, alg, root); err != nil {
				if ci == 0 && ai == 0 && ats.ReducedHashtree == nil {
					return nil, fmt.Errorf("%w: its %v hash is not the timestamp's imprint", ErrNotCovered, alg)
				}
				return nil, invalid("%s: %v", where, err)
			}
			for _, c := range covered {
				if !inFirstList(ats.ReducedHashtree, c) {
					if ci == 0 && ai == 0 {
						return nil, fmt.Errorf("%w: its %v hash %x is not in the record", ErrNotCovered, alg, c)
					}
					return nil, invalid("%s: hash %x is not in the first list of the reduced hash tree", where, c)
				}
			}
			gen := tok.info.GenTime
			if gen.After(v.At) {
				return nil, invalid("%s: made at %s, after the verification time %s", where, gen.Format(time.RFC3339), v.At.Format(time.RFC3339))
			}
			if n := len(res.Stamps); n > 0 {
				prev := res.Stamps[n-1]
				if gen.Before(prev.Time) {
					return nil, invalid("%s: made at %s, before the timestamp it renews (%s)", where, gen.Format(time.RFC3339), prev.Time.Format(time.RFC3339))
				}
				if prev.NotAfter.Before(gen) {
					return nil, invalid("%s: made at %s, after the previous TSA certificate expired (%s): the proof lapsed", where, gen.Format(time.RFC3339), prev.NotAfter.Format(time.RFC3339))
				}
			}
			res.Stamps = append(res.Stamps, Stamp{Chain: ci, Index: ai, Kind: kind, Time: gen, TSA: tok.subject, Digest: alg, NotAfter: tok.notAfter})
		}
	}
	if last := res.Latest(); last.NotAfter.Before(v.At) {
		return nil, invalid("the newest archive timestamp's TSA certificate expired on %s: the proof of time lapsed", last.NotAfter.Format(time.RFC3339))
	}
	return res, nil
}

// rootCovering is the root of the reduced hash tree; without a tree, the
// one covered hash is the root.
func rootCovering(alg crypto.Hash, rht [][][]byte, covered [][]byte) ([]byte, error) {
	if rht == nil {
		if len(covered) != 1 {
			return nil, fmt.Errorf("no reduced hash tree, yet %d hashes to cover", len(covered))
		}
		return covered[0], nil
	}
	return rootOf(alg, rht)
}

// inFirstList says whether h is in the reduced hash tree's first list
// (RFC 4998 §4.3 step 2); without a tree the imprint check covered it.
func inFirstList(rht [][][]byte, h []byte) bool {
	return rht == nil || slices.ContainsFunc(rht[0], func(v []byte) bool { return bytes.Equal(v, h) })
}

// token checks a TimeStampToken once per Verifier: its signature and TSA
// certificate (critical timeStamping EKU) first against its own
// certificates (else the token is invalid), then against v.Roots at its
// genTime (else it is untrusted).
func (v *Verifier) token(ctx context.Context, ts []byte) *checkedToken {
	key := sha256.Sum256(ts)
	v.mu.Lock()
	if c, ok := v.cache[key]; ok {
		v.mu.Unlock()
		return c
	}
	v.mu.Unlock()
	c := checkToken(ctx, ts, v.Roots)
	v.mu.Lock()
	if v.cache == nil {
		v.cache = map[[32]byte]*checkedToken{}
	}
	v.cache[key] = c
	v.mu.Unlock()
	return c
}

func checkToken(ctx context.Context, ts []byte, roots *x509.CertPool) *checkedToken {
	fail := func(kind error, format string, args ...any) *checkedToken {
		return &checkedToken{err: fmt.Errorf("%w: %s", kind, fmt.Sprintf(format, args...))}
	}
	st, err := tspclient.ParseSignedToken(ts)
	if err != nil {
		return fail(ErrInvalid, "timestamp token: %v", err)
	}
	info, err := st.Info()
	if err != nil {
		return fail(ErrInvalid, "timestamp token: %v", err)
	}
	own := x509.NewCertPool()
	for _, c := range st.Certificates {
		own.AddCert(c)
	}
	if _, err := st.Verify(ctx, x509.VerifyOptions{Roots: own, CurrentTime: info.GenTime}); err != nil {
		return fail(ErrInvalid, "timestamp token rejected: %v", err)
	}
	path, err := st.Verify(ctx, x509.VerifyOptions{Roots: roots, CurrentTime: info.GenTime})
	if err != nil {
		return fail(ErrUntrusted, "the TSA is not trusted at %s: %v", info.GenTime.Format(time.RFC3339), err)
	}
	c := &checkedToken{info: info, subject: path[0].Subject.String(), notAfter: path[0].NotAfter}
	for _, cert := range path[1:] {
		if cert.NotAfter.Before(c.notAfter) {
			c.notAfter = cert.NotAfter
		}
	}
	return c
}

func digest(alg crypto.Hash, b []byte) []byte {
	h := alg.New()
	h.Write(b)
	return h.Sum(nil)
}

// renewedLeaf is a hash-tree renewal's leaf: H(H(data) || H(earlier
// chains)), the data's hash first, as Bouncy Castle computes it.
func renewedLeaf(alg crypto.Hash, dataHash, chains []byte) []byte {
	h := alg.New()
	h.Write(dataHash)
	h.Write(chains)
	return h.Sum(nil)
}

// chainsDigest is H(DER of the ArchiveTimeStampSequence of chains).
func chainsDigest(alg crypto.Hash, chains []Chain) ([]byte, error) {
	n := chainsLen(chains)
	return digest(alg, appendChains(make([]byte, 0, tlvLen(n)), chains, n)), nil
}

// asn1AlgorithmID re-encodes a TSTInfo imprint's algorithm identifier.
func asn1AlgorithmID(info *tspclient.TSTInfo) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(0x30, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(info.MessageImprint.HashAlgorithm.Algorithm)
		b.AddBytes(info.MessageImprint.HashAlgorithm.Parameters.FullBytes)
	})
	return b.Bytes()
}
