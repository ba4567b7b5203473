package archive

import (
	"bytes"
	"fmt"
	"sort"
	"time"

	"github.com/conserva/conserva/pec"
)

// verifyScript writes VERIFY.txt: commands that check the pack with
// sha256sum and openssl only, runnable as they are inside the unzipped
// folder (sh VERIFY.txt), each with what it should print.
func verifyScript(rep *ExportReport, pkgs map[string][]*Record) []byte {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# VERIFY.txt - how to check this evidence pack with sha256sum and openssl alone.")
	w("# Run inside the unzipped folder:   sh VERIFY.txt")
	w("# Each command is followed by what it prints when the evidence is intact;")
	w("# the script stops at the first failure and ends with ALL CHECKS PASSED.")
	w("# Made by conserva on %s.", rep.ExportedAt.Format(time.RFC3339))
	w("set -e")
	w("")
	w("# 1. Every file is byte for byte what was archived (hashes listed in SHA256SUMS).")
	w("sha256sum -c SHA256SUMS")
	w("#    prints: <file>: OK   for every file")
	w("")
	w("# 2. Each message file is named after its own SHA-256: the name is the id the archive knows it by.")
	w(`for f in messages/*.eml; do h=$(sha256sum "$f" | cut -c1-64); [ "$f" = "messages/$h.eml" ] || { echo "NAME/HASH MISMATCH: $f"; exit 1; }; echo "$f: name matches content"; done`)
	w("#    prints: messages/<sha256>.eml: name matches content")
	w("")
	var ids []string
	for id := range pkgs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for n, id := range ids {
		p := "packages/" + id
		w("# %d. Package %s: its index is signed (CAdES-BES) and timestamped (RFC 3161).", 3+n, id)
		w("#    Trust: the commands use the certificates shipped in the package; compare the root")
		w("#    fingerprints printed below with those published by the archive's owner and the TSA.")
		w("openssl cms -verify -binary -inform DER -in %s/index.xml.p7s -content %s/index.xml -CAfile %s/signer-chain.pem -partial_chain -purpose any -out /dev/null", p, p, p)
		w("#    prints: CMS Verification successful")
		w("openssl ts -verify -data %s/index.xml.p7s -in %s/index.xml.p7s.tsr -CAfile %s/tsa-chain.pem -partial_chain", p, p, p)
		w("#    prints: Verification: OK")
		w("openssl ts -reply -in %s/index.xml.p7s.tsr -text | grep -E 'Time stamp:|Policy OID'", p)
		w("#    prints: the time certified by the TSA")
		w("openssl x509 -noout -subject -fingerprint -sha256 -in %s/signer-chain.pem", p)
		w("#    prints: the signer's subject and certificate fingerprint")
		for _, r := range pkgs[id] {
			w(`grep -q '>%s</sincro:Hash>' %s/index.xml && echo "messages/%s.eml is listed in the signed index of %s"`, r.ID, p, r.ID, id)
			meta := p + "/meta/" + r.ID + ".xml"
			w(`h=$(sha256sum %s | cut -c1-64); grep -q ">$h</sincro:Hash>" %s/index.xml && echo "%s is listed in the signed index"`, meta, p, meta)
		}
		w("#    prints: one line per message and per metadata file")
		w("")
	}
	w("# Providers' signatures on the PEC messages themselves (integrity of the S/MIME signature;")
	w("# add -CAfile <AgID provider CAs> -partial_chain -attime <signing time> instead of -noverify")
	w("# to check the provider's certificate at the signing time).")
	for _, m := range rep.Messages {
		if m.Signature == pec.Valid || m.Signature == pec.Untrusted {
			w("openssl smime -verify -noverify -in %s -out /dev/null", m.File)
			w("#    prints: Verification successful")
		} else {
			w("# %s: not checked here, its provider signature is %s (%s)", m.File, m.Signature, m.Reason)
		}
	}
	w("")
	w("echo ALL CHECKS PASSED")
	return b.Bytes()
}
