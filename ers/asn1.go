// Package ers implements RFC 4998 Evidence Record Syntax: one hash tree
// over many objects, one archive timestamp for its root, a small evidence
// record per object, and the two renewals (a new timestamp over the old
// ones, §5.2; a new hash tree with a stronger hash, §5.3). The layout is
// the one Bouncy Castle 1.72 accepts; docs/ERS.md describes it with a worked
// example.
package ers

import (
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/conserva/conserva/timestamp"
)

// Limits of a parsed record. A record grows by one timestamp (a few KB)
// per renewal, so these leave room for centuries of renewals while keeping
// a hostile record from costing more than a few megabytes of work.
const (
	MaxRecordSize = 1 << 20 // bytes of one .ers file
	maxAlgorithms = 16
	maxChains     = 64   // hash-tree renewals + 1
	maxStamps     = 1024 // archive timestamps in one chain
	maxLists      = 64   // partial hash trees in a reduced hash tree (tree depth)
	maxValues     = 4096 // hash values in one partial hash tree
	maxHashLen    = 64
)

// EvidenceRecord is RFC 4998 §3:
//
//	EvidenceRecord ::= SEQUENCE {
//	  version                   INTEGER { v1(1) } ,
//	  digestAlgorithms          SEQUENCE OF AlgorithmIdentifier,
//	  cryptoInfos               [0] CryptoInfos     OPTIONAL,
//	  encryptionInfo            [1] EncryptionInfo  OPTIONAL,
//	  archiveTimeStampSequence  ArchiveTimeStampSequence }
//	ArchiveTimeStampSequence ::= SEQUENCE OF ArchiveTimeStampChain
//
// The module uses implicit tags. Fields this package does not interpret
// are kept as their DER bytes so that a record re-encodes byte for byte.
type EvidenceRecord struct {
	DigestAlgorithms [][]byte // DER AlgorithmIdentifiers
	CryptoInfos      []byte   // DER of the [0] element, or nil
	EncryptionInfo   []byte   // DER of the [1] element, or nil
	Chains           []Chain  // archiveTimeStampSequence, oldest first
}

// Chain is an ArchiveTimeStampChain (SEQUENCE OF ArchiveTimeStamp): one
// hash algorithm, each timestamp covering the ones before it.
type Chain []*ArchiveTimeStamp

// ArchiveTimeStamp is RFC 4998 §4.1:
//
//	ArchiveTimeStamp ::= SEQUENCE {
//	  digestAlgorithm  [0] AlgorithmIdentifier OPTIONAL,
//	  attributes       [1] Attributes OPTIONAL,
//	  reducedHashtree  [2] SEQUENCE OF PartialHashtree OPTIONAL,
//	  timeStamp        ContentInfo }
//	PartialHashtree ::= SEQUENCE OF OCTET STRING
type ArchiveTimeStamp struct {
	DigestAlgorithm []byte     // DER AlgorithmIdentifier (universal SEQUENCE), nil if absent
	Attributes      []byte     // DER of the [1] element, or nil
	ReducedHashtree [][][]byte // nil if absent
	TimeStamp       []byte     // DER ContentInfo: the RFC 3161 TimeStampToken
}

var (
	tagDigestAlg  = cbasn1.Tag(0).ContextSpecific().Constructed()
	tagAttributes = cbasn1.Tag(1).ContextSpecific().Constructed()
	tagReduced    = cbasn1.Tag(2).ContextSpecific().Constructed()
	tagCryptoInfo = cbasn1.Tag(0).ContextSpecific().Constructed()
	tagEncInfo    = cbasn1.Tag(1).ContextSpecific().Constructed()
)

// Parse decodes a DER evidence record. It refuses anything that does not
// re-encode to the same bytes, and anything beyond the limits above. The
// record's byte fields share der's memory.
func Parse(der []byte) (*EvidenceRecord, error) {
	if len(der) > MaxRecordSize {
		return nil, fmt.Errorf("ers: record of %d bytes exceeds the limit of %d", len(der), MaxRecordSize)
	}
	er, err := parse(der)
	if err != nil {
		return nil, fmt.Errorf("ers: malformed evidence record: %w", err)
	}
	again, err := er.Marshal()
	if err != nil {
		return nil, err
	}
	if string(again) != string(der) {
		return nil, errors.New("ers: malformed evidence record: not DER")
	}
	return er, nil
}

func parse(der []byte) (*EvidenceRecord, error) {
	in := cryptobyte.String(der)
	var body cryptobyte.String
	if !in.ReadASN1(&body, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, errors.New("not one SEQUENCE")
	}
	var version int64
	if !body.ReadASN1Int64WithTag(&version, cbasn1.INTEGER) || version != 1 {
		return nil, errors.New("version is not 1")
	}
	er := &EvidenceRecord{}
	var algs cryptobyte.String
	if !body.ReadASN1(&algs, cbasn1.SEQUENCE) {
		return nil, errors.New("digestAlgorithms")
	}
	for !algs.Empty() {
		var a cryptobyte.String
		if !algs.ReadASN1Element(&a, cbasn1.SEQUENCE) || len(er.DigestAlgorithms) == maxAlgorithms {
			return nil, errors.New("digestAlgorithms")
		}
		er.DigestAlgorithms = append(er.DigestAlgorithms, a)
	}
	if body.PeekASN1Tag(tagCryptoInfo) {
		var e cryptobyte.String
		if !body.ReadASN1Element(&e, tagCryptoInfo) {
			return nil, errors.New("cryptoInfos")
		}
		if err := checkAttributes(e); err != nil {
			return nil, fmt.Errorf("cryptoInfos: %w", err)
		}
		er.CryptoInfos = e
	}
	if body.PeekASN1Tag(tagEncInfo) {
		var e cryptobyte.String
		if !body.ReadASN1Element(&e, tagEncInfo) {
			return nil, errors.New("encryptionInfo")
		}
		var info, value cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !e.ReadASN1(&info, tagEncInfo) || !info.ReadASN1ObjectIdentifier(&oid) || !info.ReadAnyASN1Element(&value, nil) || !info.Empty() {
			return nil, errors.New("encryptionInfo")
		}
		er.EncryptionInfo = e
	}
	var seq cryptobyte.String
	if !body.ReadASN1(&seq, cbasn1.SEQUENCE) || !body.Empty() {
		return nil, errors.New("archiveTimeStampSequence")
	}
	for !seq.Empty() {
		var c cryptobyte.String
		if !seq.ReadASN1(&c, cbasn1.SEQUENCE) || len(er.Chains) == maxChains {
			return nil, errors.New("archiveTimeStampChain")
		}
		var chain Chain
		for !c.Empty() {
			if len(chain) == maxStamps {
				return nil, errors.New("too many archive timestamps in a chain")
			}
			ats, err := parseATS(&c)
			if err != nil {
				return nil, err
			}
			chain = append(chain, ats)
		}
		if len(chain) == 0 {
			return nil, errors.New("empty archiveTimeStampChain")
		}
		er.Chains = append(er.Chains, chain)
	}
	if len(er.Chains) == 0 {
		return nil, errors.New("empty archiveTimeStampSequence")
	}
	return er, nil
}

func parseATS(c *cryptobyte.String) (*ArchiveTimeStamp, error) {
	var a cryptobyte.String
	if !c.ReadASN1(&a, cbasn1.SEQUENCE) {
		return nil, errors.New("archiveTimeStamp")
	}
	ats := &ArchiveTimeStamp{}
	if a.PeekASN1Tag(tagDigestAlg) {
		var e cryptobyte.String
		if !a.ReadASN1Element(&e, tagDigestAlg) {
			return nil, errors.New("archiveTimeStamp: digestAlgorithm")
		}
		// Implicit [0]: the same bytes as the SEQUENCE, with another tag.
		ats.DigestAlgorithm = append([]byte{0x30}, e[1:]...)
	}
	if a.PeekASN1Tag(tagAttributes) {
		var e cryptobyte.String
		if !a.ReadASN1Element(&e, tagAttributes) {
			return nil, errors.New("archiveTimeStamp: attributes")
		}
		if err := checkAttributes(e); err != nil {
			return nil, fmt.Errorf("archiveTimeStamp: attributes: %w", err)
		}
		ats.Attributes = e
	}
	if a.PeekASN1Tag(tagReduced) {
		var r cryptobyte.String
		if !a.ReadASN1(&r, tagReduced) {
			return nil, errors.New("reducedHashtree")
		}
		ats.ReducedHashtree = [][][]byte{}
		for !r.Empty() {
			var l cryptobyte.String
			if !r.ReadASN1(&l, cbasn1.SEQUENCE) || len(ats.ReducedHashtree) == maxLists {
				return nil, errors.New("reducedHashtree")
			}
			var list [][]byte
			for !l.Empty() {
				var v cryptobyte.String
				if !l.ReadASN1(&v, cbasn1.OCTET_STRING) || len(v) == 0 || len(v) > maxHashLen || len(list) == maxValues {
					return nil, errors.New("partialHashtree")
				}
				list = append(list, v)
			}
			if len(list) == 0 {
				return nil, errors.New("empty partialHashtree")
			}
			ats.ReducedHashtree = append(ats.ReducedHashtree, list)
		}
		if len(ats.ReducedHashtree) == 0 {
			return nil, errors.New("empty reducedHashtree")
		}
	}
	var ts cryptobyte.String
	if !a.ReadASN1Element(&ts, cbasn1.SEQUENCE) || !a.Empty() {
		return nil, errors.New("archiveTimeStamp: timeStamp")
	}
	if err := timestamp.CheckDER(ts); err != nil {
		return nil, fmt.Errorf("timeStamp: %w", err)
	}
	ats.TimeStamp = ts
	return ats, nil
}

// checkAttributes checks an implicitly tagged SET/SEQUENCE SIZE (1..MAX)
// OF Attribute, Attribute ::= SEQUENCE { attrType OID, attrValues SET }.
func checkAttributes(e cryptobyte.String) error {
	var body cryptobyte.String
	var tag cbasn1.Tag
	if !e.ReadAnyASN1(&body, &tag) || body.Empty() {
		return errors.New("empty")
	}
	for !body.Empty() {
		var attr, values cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !body.ReadASN1(&attr, cbasn1.SEQUENCE) || !attr.ReadASN1ObjectIdentifier(&oid) || !attr.ReadASN1(&values, cbasn1.SET) || !attr.Empty() {
			return errors.New("not an Attribute")
		}
	}
	return nil
}

// Marshal encodes the record in DER. Lengths are computed first and the
// bytes written once: renewal re-encodes every record of a batch.
func (er *EvidenceRecord) Marshal() ([]byte, error) {
	algs := 0
	for _, a := range er.DigestAlgorithms {
		algs += len(a)
	}
	for _, c := range er.Chains {
		for _, ats := range c {
			if a := ats.DigestAlgorithm; a != nil && (len(a) < 2 || a[0] != 0x30) {
				return nil, errors.New("ers: encode: digestAlgorithm is not a SEQUENCE")
			}
		}
	}
	seq := chainsLen(er.Chains)
	body := 3 + tlvLen(algs) + len(er.CryptoInfos) + len(er.EncryptionInfo) + tlvLen(seq)
	b := make([]byte, 0, tlvLen(body))
	b = appendHeader(b, 0x30, body)
	b = append(b, 0x02, 0x01, 0x01) // version 1
	b = appendHeader(b, 0x30, algs)
	for _, a := range er.DigestAlgorithms {
		b = append(b, a...)
	}
	b = append(b, er.CryptoInfos...)
	b = append(b, er.EncryptionInfo...)
	return appendChains(b, er.Chains, seq), nil
}

// chainsLen is the content length of an ArchiveTimeStampSequence.
func chainsLen(chains []Chain) int {
	n := 0
	for _, c := range chains {
		n += tlvLen(chainLen(c))
	}
	return n
}

func chainLen(c Chain) int {
	n := 0
	for _, ats := range c {
		l, _ := ats.contentLen()
		n += tlvLen(l)
	}
	return n
}

// contentLen is the content length of the ArchiveTimeStamp and of its
// reducedHashtree.
func (ats *ArchiveTimeStamp) contentLen() (n, rht int) {
	n = len(ats.DigestAlgorithm) + len(ats.Attributes) + len(ats.TimeStamp)
	if ats.ReducedHashtree != nil {
		for _, l := range ats.ReducedHashtree {
			rht += tlvLen(listLen(l))
		}
		n += tlvLen(rht)
	}
	return n, rht
}

func listLen(l [][]byte) int {
	n := 0
	for _, v := range l {
		n += tlvLen(len(v))
	}
	return n
}

// appendChains appends an ArchiveTimeStampSequence of content length seq;
// hash-tree renewal hashes the DER of the earlier chains in this form.
func appendChains(b []byte, chains []Chain, seq int) []byte {
	b = appendHeader(b, 0x30, seq)
	for _, c := range chains {
		b = appendHeader(b, 0x30, chainLen(c))
		for _, ats := range c {
			n, rht := ats.contentLen()
			b = appendHeader(b, 0x30, n)
			if ats.DigestAlgorithm != nil {
				b = append(b, 0xa0) // implicit [0]: the SEQUENCE retagged
				b = append(b, ats.DigestAlgorithm[1:]...)
			}
			b = append(b, ats.Attributes...)
			if ats.ReducedHashtree != nil {
				b = appendHeader(b, 0xa2, rht)
				for _, l := range ats.ReducedHashtree {
					b = appendHeader(b, 0x30, listLen(l))
					for _, v := range l {
						b = appendHeader(b, 0x04, len(v))
						b = append(b, v...)
					}
				}
			}
			b = append(b, ats.TimeStamp...)
		}
	}
	return b
}

// tlvLen is the size of a DER element with n content bytes.
func tlvLen(n int) int {
	switch {
	case n < 0x80:
		return 2 + n
	case n < 0x100:
		return 3 + n
	case n < 0x10000:
		return 4 + n
	case n < 0x1000000:
		return 5 + n
	default:
		return 6 + n
	}
}

func appendHeader(b []byte, tag byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(b, tag, byte(n))
	case n < 0x100:
		return append(b, tag, 0x81, byte(n))
	case n < 0x10000:
		return append(b, tag, 0x82, byte(n>>8), byte(n))
	case n < 0x1000000:
		return append(b, tag, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(b, tag, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// algorithmID is the DER AlgorithmIdentifier of h, without parameters.
func algorithmID(h crypto.Hash) ([]byte, error) {
	oid, ok := timestamp.DigestOID(h)
	if !ok {
		return nil, fmt.Errorf("ers: unsupported hash %v (SHA-256, SHA-384, SHA-512)", h)
	}
	return asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: oid})
}

// hashOf reads a DER AlgorithmIdentifier: a SHA-2 OID with absent or NULL
// parameters.
func hashOf(der []byte) (crypto.Hash, error) {
	var a pkix.AlgorithmIdentifier
	rest, err := asn1.Unmarshal(der, &a)
	if err != nil || len(rest) > 0 {
		return 0, errors.New("ers: malformed AlgorithmIdentifier")
	}
	if p := a.Parameters.FullBytes; len(p) != 0 && string(p) != "\x05\x00" {
		return 0, fmt.Errorf("ers: digest algorithm %v with parameters", a.Algorithm)
	}
	h, ok := timestamp.HashOf(a)
	if !ok {
		return 0, fmt.Errorf("ers: unsupported digest algorithm %v", a.Algorithm)
	}
	return h, nil
}
