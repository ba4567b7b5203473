package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/conserva/conserva/sip"
	"github.com/conserva/conserva/storage"
	"github.com/conserva/conserva/timestamp"
)

// SignedDoc is a document the conservator signed (CAdES-T) and had
// timestamped, kept write-once in the store: NAME, NAME.p7s (CAdES-T over
// NAME) and NAME.p7s.tsr (RFC 3161 over the whole .p7s, for openssl ts),
// and sig.json saying which kept roots they verify against.
type SignedDoc struct {
	Key             string    `json:"key"` // the document's store key
	SHA256          string    `json:"sha256"`
	Signer          string    `json:"signer"`
	TSA             string    `json:"tsa"`
	Timestamp       time.Time `json:"timestamp"`
	SignerRootsFile string    `json:"signer_roots_file"`
	TSARootsFile    string    `json:"tsa_roots_file"`
	Development     bool      `json:"development,omitempty"`
}

// signDocument stores data under key and signs and timestamps it with the
// seal's keys, each checked against the pinned roots before it is stored.
func (a *Archive) signDocument(ctx context.Context, key string, data []byte) (SignedDoc, error) {
	k, err := a.sealKeys(ctx, SealOptions{Roots: a.RootsOverride})
	if err != nil {
		return SignedDoc{Key: key}, fmt.Errorf("signing %s: %w", key, err)
	}
	return a.signDocumentWith(ctx, k, key, data)
}

// signDocumentWith signs with the kit of a seal that is running.
func (a *Archive) signDocumentWith(ctx context.Context, k *sealKit, key string, data []byte) (SignedDoc, error) {
	sd := SignedDoc{Key: key, SHA256: hexSum(data)}
	if err := a.putBytes(ctx, key, data); err != nil {
		return sd, err
	}
	signerPool, tsaPool := k.roots.SignerPool(), k.roots.TSAPool()
	p7s, err := a.reuseOr(ctx, key+".p7s", func() ([]byte, error) {
		p7s, _, err := k.signer.SignT(ctx, data, k.tsa)
		if err != nil {
			return nil, err
		}
		if _, err := sip.VerifyCAdES(ctx, p7s, data, signerPool, tsaPool); err != nil {
			return nil, fmt.Errorf("refusing the new signature: %w", err)
		}
		return p7s, nil
	})
	if err != nil {
		return sd, err
	}
	sig, err := sip.VerifyCAdES(ctx, p7s, data, signerPool, tsaPool)
	if err != nil {
		return sd, fmt.Errorf("%s.p7s does not verify against the pinned roots: %w", key, err)
	}
	tsr, err := a.reuseOr(ctx, key+".p7s.tsr", func() ([]byte, error) {
		t, err := k.tsa.Timestamp(ctx, p7s)
		if err != nil {
			return nil, err
		}
		return t.Response, nil
	})
	if err != nil {
		return sd, err
	}
	ts, err := timestamp.VerifyResponse(ctx, tsr, p7s, tsaPool)
	if err != nil {
		return sd, fmt.Errorf("%s.p7s.tsr does not verify against the pinned TSA roots: %w", key, err)
	}
	sd.Signer, sd.TSA, sd.Timestamp = sig.Signer.Subject.CommonName, ts.TSA.Subject.CommonName, ts.Time.UTC()
	sd.SignerRootsFile, sd.TSARootsFile, sd.Development = k.signerRootsKey, k.tsaRootsKey, k.dev
	info, _ := json.MarshalIndent(sd, "", "  ")
	return sd, a.putBytes(ctx, key+".sig.json", info)
}

// SignedFiles are the files of a signed document and what checks them,
// as an auditor gets them.
type SignedFiles struct {
	Doc, P7S, TSR, SignerRoots, TSARoots []byte
	Info                                 SignedDoc
}

// readSigned reads a signed document back and checks it against the kept
// roots it names: a forged or damaged file is an error.
func (a *Archive) readSigned(ctx context.Context, key string) (*SignedFiles, error) {
	var f SignedFiles
	var err error
	info, err := a.readAll(ctx, key+".sig.json")
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("%s was never signed (see the log of its run)", key)
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(info, &f.Info); err != nil {
		return nil, fmt.Errorf("%s.sig.json: %w", key, err)
	}
	for _, p := range []struct {
		dst *[]byte
		key string
	}{{&f.Doc, key}, {&f.P7S, key + ".p7s"}, {&f.TSR, key + ".p7s.tsr"}, {&f.SignerRoots, f.Info.SignerRootsFile}, {&f.TSARoots, f.Info.TSARootsFile}} {
		if *p.dst, err = a.readAll(ctx, p.key); err != nil {
			return nil, fmt.Errorf("%s: %w", p.key, err)
		}
	}
	if hexSum(f.Doc) != f.Info.SHA256 {
		return &f, fmt.Errorf("%s: damaged: does not match the hash recorded when it was signed", key)
	}
	sr, err := parseRoots(f.SignerRoots)
	if err != nil {
		return &f, err
	}
	tr, err := parseRoots(f.TSARoots)
	if err != nil {
		return &f, err
	}
	if _, err := sip.VerifyCAdES(ctx, f.P7S, f.Doc, pool(sr), pool(tr)); err != nil {
		return &f, fmt.Errorf("%s.p7s: %w", key, err)
	}
	if _, err := timestamp.VerifyResponse(ctx, f.TSR, f.P7S, pool(tr)); err != nil {
		return &f, fmt.Errorf("%s.p7s.tsr: %w", key, err)
	}
	return &f, nil
}

func hexSum(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}
