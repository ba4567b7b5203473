package pec_test

import (
	"crypto/sha256"
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

// BenchmarkIngestPEC does to one envelope what an ingest does in package
// pec, the message's own hash aside (the store computes it): ParseHashed,
// Verify with the run's certificate cache, Attachments for the AgID
// metadata. small is about 6.8 KB (a 512-byte attachment), large about
// 77 KB (50 KB), as the ingest benchmarks' messages.
func BenchmarkIngestPEC(b *testing.B) {
	set, err := fixtures()
	if err != nil {
		b.Fatal(err)
	}
	trust := pec.NewTrustStore(set.CA.Cert)
	for _, c := range []struct {
		name string
		size int
	}{{"small", 512}, {"large", 50 << 10}} {
		b.Run(c.name, func(b *testing.B) {
			att := make([]byte, c.size)
			for i := range att {
				att[i] = byte(i * 7)
			}
			raw, err := set.Provider.Build(pecgen.Spec{Kind: pec.KindPostaCertificata, Attachment: att})
			if err != nil {
				b.Fatal(err)
			}
			sum := sha256.Sum256(raw)
			lim := pec.DefaultLimits()
			lim.Certs = pec.NewCertCache()
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m := pec.ParseHashed(raw, sum, lim)
				if v := m.Verify(trust); v.Verdict != pec.Valid {
					b.Fatal(v.Reason)
				}
				if atts, err := m.Attachments(); err != nil || len(atts) != 1 {
					b.Fatal(atts, err)
				}
			}
		})
	}
}
