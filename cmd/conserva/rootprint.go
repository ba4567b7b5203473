package main

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// printRoots prints the SHA-256 fingerprint of every certificate of the
// roots files an export wrote into dir: the values the archive's owner
// publishes, which an auditor compares with the files (they travel with
// the document, so a forger can replace them).
func printRoots(w io.Writer, dir string) error {
	for _, name := range []string{"signer-roots.pem", "tsa-roots.pem"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		for blk, rest := pem.Decode(data); blk != nil; blk, rest = pem.Decode(rest) {
			subject := "(unreadable certificate)"
			if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
				subject = c.Subject.String()
			}
			fmt.Fprintf(w, "  %s: %s SHA-256 %x\n", filepath.Join(dir, name), subject, sha256.Sum256(blk.Bytes))
		}
	}
	return nil
}
