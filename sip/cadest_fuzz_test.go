package sip_test

import (
	"context"
	"testing"

	"github.com/conserva/conserva/sip"
)

// FuzzVerifyCAdES feeds damaged signatures to VerifyCAdES: it must never
// panic, and whatever it accepts must still be the genuine signer's
// signature, timestamped by the genuine TSA.
func FuzzVerifyCAdES(f *testing.F) {
	ctx := context.Background()
	tr := devTrust(f)
	cadesT, _, err := tr.signer.SignT(ctx, content, tr.tsa)
	if err != nil {
		f.Fatal(err)
	}
	bes, err := tr.signer.Sign(content)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(cadesT)
	f.Add(bes)
	f.Add([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x80, 0x00, 0x00, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, p7s []byte) {
		v, err := sip.VerifyCAdES(ctx, p7s, content, tr.signerRoots, tr.tsaRoots)
		if err != nil {
			return
		}
		if !v.Signer.Equal(tr.signer.Cert) {
			t.Fatalf("accepted a signature by %v", v.Signer.Subject)
		}
		if v.Timestamp != nil && !v.Timestamp.TSA.Equal(tr.tsa.Cert) {
			t.Fatalf("accepted a timestamp by %v", v.Timestamp.TSA.Subject)
		}
	})
}
