package pec

import (
	"bufio"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
)

// IGPECProvider is one entry of the Indice dei Gestori di PEC, the provider
// list AgID publishes as LDAP and as an LDIF export (schema registered by
// RFC 6109 under OID arc 1.3.6.1.4.1.16572: objectClass provider with
// providerName, providerCertificate, providerCertificateHash, mailReceipt,
// managedDomains).
type IGPECProvider struct {
	DN                string
	Name              string
	MailReceipt       string
	ManagedDomains    []string
	CertificateHashes []string
	Certificates      []*x509.Certificate
}

// ParseIGPEC reads an IGPEC LDIF export (RFC 2849: "attr: value",
// "attr:: base64", folded lines starting with a space, entries separated by
// blank lines). Entries without a providerCertificate are kept: their
// hashes and domains are still information.
func ParseIGPEC(r io.Reader) ([]IGPECProvider, error) {
	var (
		out     []IGPECProvider
		cur     *IGPECProvider
		logical string
		lineNo  int
	)
	flush := func() error {
		if logical == "" {
			return nil
		}
		line := logical
		logical = ""
		name, value, err := ldifAttr(line)
		if err != nil {
			return fmt.Errorf("line %d: %w", lineNo, err)
		}
		if cur == nil {
			cur = &IGPECProvider{}
		}
		switch strings.ToLower(strings.SplitN(name, ";", 2)[0]) {
		case "dn":
			cur.DN = string(value)
		case "providername":
			cur.Name = string(value)
		case "mailreceipt":
			cur.MailReceipt = string(value)
		case "manageddomains":
			cur.ManagedDomains = append(cur.ManagedDomains, string(value))
		case "providercertificatehash":
			cur.CertificateHashes = append(cur.CertificateHashes, string(value))
		case "providercertificate":
			c, err := x509.ParseCertificate(value)
			if err != nil {
				return fmt.Errorf("line %d: providerCertificate: %w", lineNo, err)
			}
			cur.Certificates = append(cur.Certificates, c)
		}
		return nil
	}
	endEntry := func() {
		if cur != nil {
			out = append(out, *cur)
			cur = nil
		}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.HasPrefix(line, " "):
			logical += line[1:]
			continue
		case strings.HasPrefix(line, "#"):
			continue
		}
		if err := flush(); err != nil {
			return nil, err
		}
		if line == "" {
			endEntry()
			continue
		}
		if strings.HasPrefix(line, "version:") && cur == nil && len(out) == 0 {
			continue
		}
		logical = line
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	endEntry()
	if len(out) == 0 {
		return nil, fmt.Errorf("no LDIF entry found")
	}
	return out, nil
}

func ldifAttr(line string) (string, []byte, error) {
	i := strings.IndexByte(line, ':')
	if i <= 0 {
		return "", nil, fmt.Errorf("not an LDIF attribute line")
	}
	name, rest := line[:i], line[i+1:]
	if strings.HasPrefix(rest, ":") {
		v, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest[1:]))
		if err != nil {
			return "", nil, fmt.Errorf("%s: bad base64: %w", name, err)
		}
		return name, v, nil
	}
	if strings.HasPrefix(rest, "<") {
		return "", nil, fmt.Errorf("%s: URL values are not supported", name)
	}
	return name, []byte(strings.TrimSpace(rest)), nil
}
