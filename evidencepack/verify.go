package evidencepack

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/conserva/conserva/pec"
)

// verifyScript writes VERIFY.txt: a POSIX sh script that checks the pack
// with sh, sha256sum, openssl and grep alone, inside the unzipped folder
// (sh VERIFY.txt). It does not stop at the first failure: every check says
// "ok:" or "FAILED:", and the exit status is 1 when any failed.
func verifyScript(rep *Report, manifestSigner, manifestTSA string, anchors bool) []byte {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# VERIFY.txt - how to check this evidence pack with sh, sha256sum, openssl (3.x) and grep alone.")
	w("# Run inside the unzipped folder:")
	w("#   sh VERIFY.txt")
	w("# and, to attribute every signature to the archive's conservator and its TSA, with the SHA-256")
	w("# fingerprints of their root certificates as published by the archive's owner (hex; colons, case")
	w("# and separating spaces or commas ignored):")
	w("#   SIGNER_ROOT_SHA256=<hex> TSA_ROOT_SHA256=<hex> sh VERIFY.txt")
	w("# Each check prints ok: or FAILED: and what it checked; the exit status is 1 when any failed.")
	w("# This file is listed in SHA256SUMS, which the conservator signed (step 2): check that first by")
	w("# hand if you do not trust this script.")
	w("# Made by conserva on %s.", rep.ExportedAt.Format(time.RFC3339))
	w("set -u")
	w("fail=0")
	w(`bad() { echo "FAILED: $*"; fail=1; }`)
	w(`ok() { echo "ok: $*"; }`)
	w(`# norm strips colons and turns commas into spaces (sh only, no tr).`)
	w(`norm() { s=$1; o=; while [ -n "$s" ]; do c=${s%%"${s#?}"}; s=${s#?}; case $c in :) ;; ,) o="$o ";; *) o=$o$c;; esac; done; printf '%%s' "$o"; }`)
	w(`fp() { h=$(openssl x509 -in "$1" -outform DER | sha256sum); printf '%%s' "${h%%%% *}"; }`)
	w(`pinned=yes`)
	w(`root() { # role file fingerprints-given`)
	w(`  # openssl -CAfile trusts every certificate of a file; only the first is fingerprinted: one each.`)
	w(`  if [ "$(grep -c -- '-----BEGIN' "$2")" != 1 ] || ! grep -qx -- '-----BEGIN CERTIFICATE-----' "$2"; then bad "$2 must hold exactly one certificate"; return; fi`)
	w(`  h=$(fp "$2"); echo "$1 root $2: SHA-256 $h ($(openssl x509 -in "$2" -noout -subject))"`)
	w(`  if [ -z "$3" ]; then pinned=no; return; fi`)
	w(`  if printf '%%s\n' $(norm "$3") | grep -qixF "$h"; then ok "$2 is the $1 root whose fingerprint you gave"; else bad "$2 is NOT a $1 root whose fingerprint you gave"; fi`)
	w(`}`)
	w(`run() { out=$("$@" 2>&1); rc=$?; return $rc; }`)
	w(`# sum prints a file's SHA-256 (read through a redirection: no name is taken for an option or stdin).`)
	w(`sum() { h=$(sha256sum < "$1"); printf '%%s' "${h%%%% *}"; }`)
	w("")
	w("# 1. The roots every signature and timestamp of this pack is checked against (roots/).")
	w(`for r in roots/signer-*.pem; do [ -f "$r" ] && root signer "$r" "${SIGNER_ROOT_SHA256:-}"; done`)
	w(`for r in roots/tsa-*.pem; do [ -f "$r" ] && root tsa "$r" "${TSA_ROOT_SHA256:-}"; done`)
	w("")
	w("# 2. The manifest: SHA256SUMS is signed by the conservator (CAdES-T, SHA256SUMS.p7s) and the")
	w("#    signature file is timestamped (RFC 3161, SHA256SUMS.p7s.tsr), both under the roots above.")
	// Judged at the time of the export (the manifest is signed then), not
	// today: a pack stays verifiable after the signer's certificate expires.
	at := rep.ExportedAt.Unix()
	w(`if run openssl cms -verify -binary -inform DER -in SHA256SUMS.p7s -content SHA256SUMS -CAfile %s -purpose any -attime %d -out /dev/null; then ok "SHA256SUMS is signed by $(openssl cms -verify -binary -inform DER -in SHA256SUMS.p7s -content SHA256SUMS -noverify -signer /dev/stdout -out /dev/null 2>/dev/null | openssl x509 -noout -subject) under %s"; else bad "the signature of SHA256SUMS does not verify under %s: $out"; fi`, manifestSigner, at, manifestSigner, manifestSigner)
	w(`if run openssl ts -verify -data SHA256SUMS.p7s -in SHA256SUMS.p7s.tsr -CAfile %s -attime %d; then ok "SHA256SUMS.p7s is timestamped under %s: $(openssl ts -reply -in SHA256SUMS.p7s.tsr -text 2>/dev/null | grep 'Time stamp:')"; else bad "the timestamp of SHA256SUMS.p7s does not verify under %s: $out"; fi`, manifestTSA, at, manifestTSA, manifestTSA)
	w("")
	w("# 3. Every file is in the manifest with its hash, and every file of the manifest is here.")
	w(`if run sha256sum -c --quiet --strict SHA256SUMS; then ok "every file listed in SHA256SUMS is present and intact"; else bad "files listed in SHA256SUMS are missing or changed: $out"; fi`)
	w(`n=0`)
	w(`# walk visits every entry below a folder, hidden ones included, without following links.`)
	// A line break in a name would make grep -F read the rest as a second
	// pattern: a file named "x<newline><a line of SHA256SUMS>" would match.
	w(`nl=$(printf '\nx'); nl=${nl%%x}`)
	w(`walk() {`)
	w(`  local f`)
	w(`  for f in "$1"* "$1".[!.]* "$1"..?*; do`)
	w(`    [ -e "$f" ] || [ -L "$f" ] || continue`)
	w(`    case $f in *"$nl"*) bad "$f: a line break in a name (not in the signed manifest)"; continue;; esac`)
	w(`    if [ -L "$f" ]; then bad "$f is a symbolic link"; continue; fi`)
	w(`    if [ -d "$f" ]; then walk "$f/"; continue; fi`)
	w(`    if [ ! -f "$f" ]; then bad "$f is not a regular file"; continue; fi`)
	w(`    case $f in SHA256SUMS|SHA256SUMS.p7s|SHA256SUMS.p7s.tsr) continue;; esac`)
	w(`    n=$((n+1))`)
	w(`    grep -qxF "$(sum "$f")  $f" SHA256SUMS || bad "$f is not in the signed manifest (added or changed)"`)
	w(`  done`)
	w(`}`)
	w(`walk ""`)
	w(`echo "$n files compared with the manifest"`)
	w("")
	w("# 4. Each package: its index is signed by the conservator (CAdES-T) and the signature file is")
	w("#    timestamped (RFC 3161), both under the roots above and judged at the timestamp's time;")
	w("#    each metadata, validation and access log file is listed in the signed index with its hash.")
	var known []string
	for _, p := range rep.Packages {
		d := "packages/" + p.ID
		known = append(known, d+"/index.xml")
		at := ""
		if !p.Timestamp.IsZero() {
			at = fmt.Sprintf(" -attime %d", p.Timestamp.Unix())
		}
		sr, tr := p.SignerRoot, p.TSARoot
		if sr == "" {
			sr = manifestSigner // its signer is under no pinned root: the check below fails, as it must
		}
		if tr == "" {
			tr = manifestTSA
		}
		w(`if run openssl cms -verify -binary -inform DER -in %s/index.xml.p7s -content %s/index.xml -CAfile %s -purpose any%s -out /dev/null; then ok "%s/index.xml is signed under %s"; else bad "%s: the index signature does not verify under %s: $out"; fi`, d, d, sr, at, d, sr, d, sr)
		w(`if run openssl ts -verify -data %s/index.xml.p7s -in %s/index.xml.p7s.tsr -CAfile %s%s; then ok "%s/index.xml.p7s is timestamped under %s: $(openssl ts -reply -in %s/index.xml.p7s.tsr -text 2>/dev/null | grep 'Time stamp:')"; else bad "%s: the timestamp does not verify under %s: $out"; fi`, d, d, tr, at, d, tr, d, d, tr)
		writeCRLChecks(&b, d, p, sr, tr)
		// Validation data and access log segments too: a CRL swapped by
		// whoever can re-sign the manifest is not the one sealed.
		w(`for m in %s/meta/*.xml %s/validation/*/* %s/accesslog/*; do [ -f "$m" ] || continue; h=$(sum "$m"); if grep -qF ">$h</sincro:Hash>" %s/index.xml; then ok "$m is listed in the signed index"; else bad "$m is not listed in the signed index of %s"; fi; done`, d, d, d, d, d)
	}
	w("")
	w("# 5. Every message is named after its SHA-256 and listed in a signed package index above")
	w("#    (or named by report.json as not sealed yet).")
	w(`unsealed=" %s "`, strings.Join(rep.Unsealed, " "))
	var exported []string
	for _, m := range rep.Messages {
		exported = append(exported, m.ID)
	}
	w(`exported=" %s "`, strings.Join(exported, " "))
	w(`for f in messages/*; do`)
	w(`  [ -f "$f" ] || continue`)
	w(`  h=$(sum "$f")`)
	w(`  if [ "$f" != "messages/$h.eml" ]; then bad "$f: its name is not its SHA-256 ($h)"; continue; fi`)
	w(`  case $exported in *" $h "*) ;; *) bad "$f is not one of the messages report.json describes"; continue;; esac`)
	w(`  found=`)
	// Listed as a message (its Path in the messages group), not merely as
	// some hash of the index.
	w(`  for idx in %s; do [ -f "$idx" ] && grep -qF "<sincro:Path>messages/${h%%%%"${h#??}"}/$h.eml</sincro:Path>" "$idx" && found=$idx; done`, strings.Join(known, " "))
	w(`  if [ -n "$found" ]; then ok "$f is listed in the signed index $found"`)
	w(`  else case $unsealed in *" $h "*) echo "NOT SEALED: $f is in no package yet (report.json says so): it rests on the signed manifest of this pack";; *) bad "$f is in no signed package index of this pack";; esac`)
	w(`  fi`)
	w(`done`)
	w("")
	w("# 6. The providers' signatures on the PEC messages, judged at their signing time against the")
	w("#    providers' trust anchors kept by the archive (providers/anchors.pem); openssl's answer must be")
	w("#    the verdict report.json gives (an invalid signature is reported as such: it is evidence too).")
	ca := "-no-CAfile"
	if anchors {
		ca = "-CAfile providers/anchors.pem -partial_chain"
	}
	w(`provider() { # file verdict attime`)
	w(`  if [ ! -f "$1" ]; then bad "$1 is missing"; return; fi`)
	w(`  at=; [ -n "$3" ] && at="-attime $3"`)
	w(`  out=$(openssl smime -verify -in "$1" %s -no-CApath -no-CAstore -purpose any $at -out /dev/null 2>&1); rc=$?`, ca)
	w(`  if [ $rc -eq 0 ] && printf '%%s\n' "$out" | grep -q 'Verification successful'; then got=valid`)
	w(`  elif printf '%%s\n' "$out" | grep -q 'Error reading S/MIME message'; then got=unreadable`)
	w(`  elif printf '%%s\n' "$out" | grep -qE 'unable to get local issuer certificate|unable to get issuer certificate|unable to verify the first certificate|self.signed certificate in certificate chain'; then got=untrusted`)
	w(`  else got=invalid; fi`)
	w(`  case "$2:$got" in`)
	w(`    valid:valid|untrusted:untrusted|invalid:invalid|invalid:unreadable|absent:unreadable) ok "$1: provider signature $2, as report.json says (openssl: $got)";;`)
	w(`    *) bad "$1: openssl finds the provider signature $got, report.json says $2";;`)
	w(`  esac`)
	w(`}`)
	for _, m := range rep.Messages {
		at := ""
		if m.SignedAt != nil {
			at = fmt.Sprint(m.SignedAt.Unix())
		}
		switch m.Signature {
		case pec.Valid, pec.Untrusted, pec.Invalid, pec.Absent:
			w(`provider %s %s "%s"`, m.File, m.Signature, at)
		default:
			w(`echo "%s: provider signature not checked here (%s)"`, m.File, m.Signature)
		}
	}
	writeERSChecks(&b, rep, manifestTSA)
	w("")
	w(`if [ $fail -ne 0 ]; then echo "VERIFICATION FAILED: see the FAILED lines above"; exit 1; fi`)
	w(`if [ $pinned = no ]; then`)
	w(`  echo "ALL CHECKS PASSED against the roots shipped in roots/"`)
	w(`  echo "WARNING: THE ROOTS WERE NOT COMPARED with the archive's published fingerprints: anyone can make a pack that passes against roots of their own."`)
	w(`  echo "WARNING: run again as SIGNER_ROOT_SHA256=<hex> TSA_ROOT_SHA256=<hex> sh VERIFY.txt"`)
	w(`  exit 0`)
	w(`fi`)
	w(`echo "ALL CHECKS PASSED, with the roots you gave"`)
	return b.Bytes()
}

// writeCRLChecks writes a package's crlChecks into VERIFY.txt: openssl
// verify -crl_check, at the timestamp's time, under the pinned root.
func writeCRLChecks(b *bytes.Buffer, d string, p Package, signerRoot, tsaRoot string) {
	if len(p.CRLChecks) == 0 {
		return
	}
	fmt.Fprintf(b, "# %s: the conservator's and the TSA's certificates were not revoked at the timestamp's time,\n#   per the CRLs kept in %s/validation/ at seal time (openssl verify -crl_check).\n", d, d)
	for _, c := range p.CRLChecks {
		root := signerRoot
		if c.Role == "tsa" {
			root = tsaRoot
		}
		args := ""
		for _, f := range c.CRLs {
			args += " -CRLfile " + f
		}
		for _, f := range c.Intermediates {
			args += " -untrusted " + f
		}
		if !p.Timestamp.IsZero() {
			args += fmt.Sprintf(" -attime %d", p.Timestamp.Unix())
		}
		fmt.Fprintf(b, "if run openssl verify -crl_check -purpose any -CAfile %s%s %s; then ok \"%s: the %s certificate %s is not revoked (CRL kept in the package)\"; else bad \"%s: the %s certificate %s fails the CRL check: $out\"; fi\n",
			root, args, c.Leaf, d, c.Role, c.Leaf, d, c.Role, c.Leaf)
	}
}
