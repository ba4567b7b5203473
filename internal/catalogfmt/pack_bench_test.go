package catalogfmt

import (
	"bytes"
	"compress/flate"
	"testing"
)

var sample = []byte(`{"size":9562,"kind":"posta-certificata","receipt_type":"completa","signature":"valid","reason":"signature matches the content; chain to trust anchor \"conserva DEVELOPMENT PEC CA (no legal value)\" valid at 2026-11-30T11:27:32Z (signingTime); legacy algorithms accepted: SHA-1 message digest","signer":"Posta Certificata Demo","signed_at":"2026-11-30T11:27:32Z","time_source":"signingTime","message_id":"<opec21.20261130112732.3def8c4c@pec.demo.example>","ref_message_id":"<5b4c90552b2c4df8@client.example>","identificativo":"opec21.20261130112732.3def8c4c@pec.demo.example","msgid":"<5b4c90552b2c4df8@client.example>","from":"mittente@pec.demo.example","to":["destinatario@pec.altro.example"],"subject":"POSTA CERTIFICATA: Documento 10","date":"2026-11-30T11:27:32Z","errore":"nessuno","dossier":"5b4c90552b2c4df8@client.example","sources":["src/msg-000010.eml"],"ingested_at":"2026-11-30T11:27:32.33468709Z","package":"","flagged":false,"history":[{"at":"2026-11-30T11:27:32.33468709Z","by":"ingest","verdict":"valid","reason":"signature matches the content; chain to trust anchor \"conserva DEVELOPMENT PEC CA (no legal value)\" valid at 2026-11-30T11:27:32Z (signingTime); legacy algorithms accepted: SHA-1 message digest","signer":"Posta Certificata Demo","trust":["f8c0a91d42686b361a17ef3953f3f3c3740b355a6fba55e03fb7a630380bbda2"]}],"attachments":[{"name":"documento.pdf","type":"application/pdf","size":2000,"sha256":"94d33bdea96ed8e844927ce498517e1036617dbb8f2c47c622d692a8226dfd40"}],"flow":"E","class":{"tipo_registro":"Nessuno"},"class_history":[{"by":"ingest","class":{"tipo_registro":"Nessuno"}}]}`)

func BenchmarkPackLevels(b *testing.B) {
	for _, lvl := range []int{1, 2, 3, 4, 6} {
		w, _ := flate.NewWriterDict(nil, lvl, dict)
		var buf bytes.Buffer
		b.Run(string(rune('0'+lvl)), func(b *testing.B) {
			for range b.N {
				buf.Reset()
				w.Reset(&buf)
				w.Write(sample)
				w.Close()
			}
			b.ReportMetric(float64(buf.Len()), "bytes")
		})
	}
	p := Pack(sample)
	b.Run("unpack", func(b *testing.B) {
		for range b.N {
			Unpack(p)
		}
	})
}

func BenchmarkUnpack(b *testing.B) {
	p := Pack(sample)
	b.ReportAllocs()
	for range b.N {
		Unpack(p)
	}
}
