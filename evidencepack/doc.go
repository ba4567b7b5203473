// Package evidencepack writes the evidence pack (pacchetto di
// distribuzione) that conserva export makes of one dossier: a zip of the
// dossier's messages byte for byte, the packages that seal them, their
// evidence records, the pinned roots and the providers' anchors, a report
// (report.json, report.html) and VERIFY.txt, a POSIX sh script that checks
// all of it with sha256sum and openssl alone. Every file is listed with its
// SHA-256 in SHA256SUMS, which the conservator signs (CAdES-T,
// SHA256SUMS.p7s) and a TSA timestamps (SHA256SUMS.p7s.tsr).
//
// The package owns the pack's layout and names, the report model and its
// rendering, the manifest and the verification script; it reads no store
// and checks no signature. What goes in, and what was verified, is the
// caller's (archive.Export): this package writes it down. The format is in
// docs/PACK.md (and docs/FORMAT.md, "The evidence pack").
package evidencepack
