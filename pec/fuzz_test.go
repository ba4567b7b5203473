package pec_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/conserva/conserva/pec"
)

// FuzzParse feeds arbitrary bytes to the parser and the verifier. Seeds are
// committed under testdata/fuzz/FuzzParse (signed fixtures of several
// kinds, broken ones, garbage). Whatever the input: no panic, the raw bytes
// untouched and hashed, exactly one of the four verdicts with a reason.
func FuzzParse(f *testing.F) {
	f.Add([]byte("From: a@b.example\r\nX-Ricevuta: accettazione\r\nContent-Type: multipart/signed; boundary=x\r\n\r\n--x\r\n\r\nbody\r\n--x--\r\n"))
	f.Add([]byte("Content-Type: application/pkcs7-mime\r\nContent-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHAqCAMIACAQEx\r\n"))
	f.Add([]byte(""))
	f.Add([]byte("Subject: s\r\nX-Long: " + strings.Repeat("l", 600) + "\r\n\tmore\r\nMessage-ID: <" + strings.Repeat("m", 5000) + ">\r\n\r\nb"))
	certs := pec.NewCertCache()
	f.Fuzz(func(t *testing.T, raw []byte) {
		orig := append([]byte(nil), raw...)
		// Small header limits, so that the fuzzer reaches them.
		lim := pec.Limits{MaxSize: 1 << 20, MaxDepth: 16, MaxParts: 200, MaxHeaderBytes: 4096, MaxHeaderLine: 512}
		m := pec.Parse(raw, lim)
		v := m.Verify(nil)
		// Read from a file, in pieces, with the certificates remembered
		// across inputs, the message must give the same.
		cached := lim
		cached.Certs = certs
		fm := pec.ParseReaderAtBuf(onlyReaderAt{bytes.NewReader(raw)}, int64(len(raw)), cached, 16)
		if a, b := mustJSON(m), mustJSON(fm); a != b {
			t.Fatalf("parsed differently from a file:\n%s\n%s", a, b)
		}
		if fv := fm.Verify(nil); fv.Verdict != v.Verdict || fv.Reason != v.Reason {
			t.Fatalf("verified differently from a file: %s (%s) / %s (%s)", v.Verdict, v.Reason, fv.Verdict, fv.Reason)
		}
		switch v.Verdict {
		case pec.Valid, pec.Invalid, pec.Untrusted, pec.Absent:
		default:
			t.Fatalf("verdict %q", v.Verdict)
		}
		if v.Verdict == pec.Valid {
			t.Fatal("valid without trust anchors")
		}
		if v.Reason == "" {
			t.Fatal("verdict without a reason")
		}
		if !bytes.Equal(raw, orig) {
			t.Fatal("input modified")
		}
		sum := sha256.Sum256(orig)
		if m.SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatal("wrong hash")
		}
		if _, ok := pec.ParseKind(string(m.Kind)); !ok {
			t.Fatalf("kind %q", m.Kind)
		}
	})
}

// FuzzDaticert feeds arbitrary XML to the daticert reader, which must give
// exactly what the reader written on etree gives: every field, or the same
// error.
func FuzzDaticert(f *testing.F) {
	f.Add([]byte(`<?xml version="1.0"?><postacert tipo="accettazione" errore="nessuno"><intestazione><mittente>a@b.it</mittente></intestazione><dati><data zona="+0100"><giorno>01/02/2020</giorno><ora>10:00:00</ora></data></dati></postacert>`))
	f.Add([]byte(`<!DOCTYPE postacert [<!ENTITY a "b">]><postacert/>`))
	f.Add([]byte(`<?xml version="1.0" encoding="ISO-8859-1"?><p:postacert x:tipo="a" tipo="b" x:tipo="c"><intestazione><mittente>a<!-- c -->b<![CDATA[ c ]]>d<?pi x?>e</mittente><destinatari tipo="esterno"> x@y </destinatari><destinatari>z@w</destinatari></intestazione><dati><msgid>&lt;m&gt;</msgid><ricevuta/><ricezione>1</ricezione><ricezione>2</ricezione><errore-esteso>5.1.1 no</errore-esteso></dati></p:postacert>`))
	f.Add([]byte("<postacert><dati></x></dati></postacert>"))
	f.Add([]byte("<postacert><dati>"))
	f.Add([]byte("text <a/><postacert/>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := pec.ParseDaticert(data)
		if err == nil && d == nil {
			t.Fatal("nil daticert without error")
		}
		want, wantErr := refParseDaticert(data)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("error %v, etree %v", err, wantErr)
		}
		if a, b := mustJSON(d), mustJSON(want); a != b {
			t.Fatalf("read\n%s\netree\n%s", a, b)
		}
	})
}
