package ers_test

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/ers"
	"github.com/conserva/conserva/internal/testutil"
)

// The worked example of docs/ERS.md, recomputed: if the code or the
// document changes, this fails.
const (
	exHa   = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
	exHb   = "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
	exHc   = "2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6"
	exN    = "749b7ca2a54111005e8fd558804ff78333d14b32de9bb15efb5ab282c4dadc81"
	exRoot = "8fee4b5ecf296a85922864113a5b1f05df4a3cc7ff94921309b68f285dfa1cef"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWorkedExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/ERS.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{exHa, exHb, exHc, exN, exRoot, "a2 46", "30 44", "749b7ca2…c4dadc81", "ca978112…afee48bb", "a0 0b 06 09 60 86 48 01 65 03 04 02 01"} {
		if !strings.Contains(string(doc), v) {
			t.Errorf("docs/ERS.md no longer shows %s", v)
		}
	}
	data := [][]byte{[]byte("a"), []byte("b"), []byte("c")}
	var leaves [][]byte
	for i, want := range []string{exHa, exHb, exHc} {
		h := sum(crypto.SHA256, data[i])
		if hex.EncodeToString(h) != want {
			t.Fatalf("H(%s) = %x", data[i], h)
		}
		leaves = append(leaves, h)
	}
	if n := sum(crypto.SHA256, append(unhex(t, exHc), unhex(t, exHb)...)); hex.EncodeToString(n) != exN {
		t.Fatalf("N = %x", n)
	}
	if r := sum(crypto.SHA256, append(unhex(t, exN), unhex(t, exHa)...)); hex.EncodeToString(r) != exRoot {
		t.Fatalf("root by hand = %x", r)
	}
	tree, err := ers.Build(crypto.SHA256, leaves)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(tree.Root()) != exRoot {
		t.Fatalf("Build root = %x", tree.Root())
	}
	Ha, Hb, Hc, N := unhex(t, exHa), unhex(t, exHb), unhex(t, exHc), unhex(t, exN)
	want := map[int][][][]byte{
		0: {{N, Ha}},
		1: {{Hc, Hb}, {Ha}},
		2: {{Hc, Hb}, {Ha}},
	}
	for i, w := range want {
		got := tree.Reduced(i)
		if len(got) != len(w) {
			t.Fatalf("leaf %s: %x", data[i], got)
		}
		for l := range w {
			for v := range w[l] {
				if !bytes.Equal(got[l][v], w[l][v]) {
					t.Fatalf("leaf %s: %x, want %x", data[i], got, w)
				}
			}
		}
	}

	// The record of a: its DER starts the archive timestamp as the
	// document shows, and openssl checks the timestamp over the root.
	dev, roots, keys := devTSA(t)
	if _, err := tree.Stamp(ctx, dev); err != nil {
		t.Fatal(err)
	}
	rec, err := tree.Record(0)
	if err != nil {
		t.Fatal(err)
	}
	prefix := unhex(t, "a00b0609608648016503040201"+"a246"+"3044"+"0420"+exN+"0420"+exHa)
	if !bytes.Contains(rec, prefix) {
		t.Fatalf("record of a lacks the documented bytes:\n%x", rec)
	}
	if _, err := ers.VerifyData(ctx, rec, []byte("a"), roots, time.Now()); err != nil {
		t.Fatal(err)
	}

	// The token found as docs/ERS.md says: asn1parse, the SEQUENCE before
	// pkcs7-signedData, hl+l bytes from its offset.
	openssl := testutil.Tool(t, "openssl")
	dir := t.TempDir()
	recFile := filepath.Join(dir, "a.ers")
	os.WriteFile(recFile, rec, 0o644)
	listing, err := exec.Command(openssl, "asn1parse", "-inform", "DER", "-in", recFile).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl asn1parse: %v\n%s", err, listing)
	}
	lines := strings.Split(string(listing), "\n")
	var token []byte
	for i, l := range lines {
		if strings.Contains(l, ":pkcs7-signedData") && i > 0 {
			var off, depth, hl, n int
			if _, err := fmt.Sscanf(strings.TrimSpace(lines[i-1]), "%d:d=%d hl=%d l=%d", &off, &depth, &hl, &n); err != nil {
				t.Fatalf("asn1parse line %q: %v", lines[i-1], err)
			}
			t.Logf("token line: %s", lines[i-1])
			token = rec[off : off+hl+n]
			break
		}
	}
	er, _ := ers.Parse(rec)
	if !bytes.Equal(token, er.Chains[0][0].TimeStamp) {
		t.Fatalf("the documented steps do not find the token:\n%s", listing)
	}
	tok, ca := filepath.Join(dir, "token.der"), filepath.Join(dir, "ca.pem")
	os.WriteFile(tok, token, 0o644)
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: keys.CA.Raw}), 0o644)
	out, err := exec.Command(openssl, "ts", "-verify", "-digest", exRoot, "-token_in", "-in", tok, "-CAfile", ca).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl ts -verify: %v\n%s", err, out)
	}
	if out, err := exec.Command(openssl, "ts", "-verify", "-digest", exN, "-token_in", "-in", tok, "-CAfile", ca).CombinedOutput(); err == nil {
		t.Fatalf("openssl accepted the timestamp for another digest:\n%s", out)
	}
}
