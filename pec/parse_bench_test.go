package pec_test

import (
	"testing"

	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/pec"
)

// BenchmarkParseVerify parses and verifies one ~70 KB envelope.
func BenchmarkParseVerify(b *testing.B) {
	set, err := fixtures()
	if err != nil {
		b.Fatal(err)
	}
	raw, err := set.Provider.Build(pecgen.Spec{Kind: pec.KindPostaCertificata, Attachment: make([]byte, 50*1024)})
	if err != nil {
		b.Fatal(err)
	}
	trust := pec.NewTrustStore(set.CA.Cert)
	b.SetBytes(int64(len(raw)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if v := pec.Parse(raw, pec.DefaultLimits()).Verify(trust); v.Verdict != pec.Valid {
			b.Fatal(v.Reason)
		}
	}
}
