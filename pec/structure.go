package pec

import (
	"github.com/conserva/conserva/internal/ber"
	"strings"

	"github.com/smallstep/pkcs7"
)

// signature is the S/MIME signature container found in a message.
type signature struct {
	form    string // "multipart/signed" or "application/pkcs7-mime"
	nested  bool   // found inside a multipart/mixed rather than at the top
	content span   // the signed entity, raw bytes (for pkcs7-mime: the encapsulated content)
	signed  bool   // content is set
	p7      *pkcs7.PKCS7
	// problem is set when the container is broken: missing or undecodable
	// signature part, truncation. Such a message is invalid, not absent:
	// it claims a signature it cannot show.
	problem string
}

// findSignature looks for the signature of the message: a multipart/signed
// at the top or inside a multipart/mixed added by a forwarder or mailing
// list, or an opaque application/pkcs7-mime at the top. Attachments
// (message/rfc822, a document.p7m inside a mixed part) are never taken for
// the message's own signature.
func findSignature(top *entity, lim Limits) *signature {
	t, params := top.mediaType()
	if isPKCS7Mime(t, top) {
		return opaqueSignature(top, lim)
	}
	return findSigned(top, t, params, lim, 0)
}

func findSigned(e *entity, t string, params map[string]string, lim Limits, depth int) *signature {
	switch {
	case t == "multipart/signed":
		s := detachedSignature(e, params, lim)
		s.nested = depth > 0
		return s
	case t == "multipart/mixed" && depth < 2 && depth < lim.MaxDepth:
		parts, _ := multipartParts(e.body, params["boundary"])
		for i, raw := range parts {
			if i >= lim.MaxParts {
				break
			}
			child, err := parseEntity(raw, lim)
			if err != nil {
				continue
			}
			ct, cp := child.mediaType()
			if ct == "multipart/signed" || ct == "multipart/mixed" {
				if s := findSigned(child, ct, cp, lim, depth+1); s != nil {
					return s
				}
			}
		}
	}
	return nil
}

func isPKCS7Mime(t string, e *entity) bool {
	if t == "application/pkcs7-mime" || t == "application/x-pkcs7-mime" {
		return true
	}
	// Some clients label an opaque signed message application/octet-stream
	// with a .p7m name.
	return t == "application/octet-stream" && strings.HasSuffix(e.filename(), ".p7m")
}

func detachedSignature(e *entity, params map[string]string, lim Limits) *signature {
	s := &signature{form: "multipart/signed"}
	boundary := params["boundary"]
	if boundary == "" {
		s.problem = "multipart/signed without a boundary"
		return s
	}
	parts, closed := multipartParts(e.body, boundary)
	if len(parts) == 0 {
		s.problem = "multipart/signed has no parts (truncated?)"
		return s
	}
	s.content, s.signed = parts[0], true
	var sigPart *entity
	for _, raw := range parts[1:] {
		child, err := parseEntity(raw, lim)
		if err != nil {
			continue
		}
		ct, _ := child.mediaType()
		if ct == "application/pkcs7-signature" || ct == "application/x-pkcs7-signature" ||
			strings.HasSuffix(child.filename(), ".p7s") {
			sigPart = child
			break
		}
	}
	switch {
	case sigPart == nil && !closed:
		s.problem = "message is truncated: the signature part is missing and the multipart/signed is not closed"
		return s
	case sigPart == nil:
		s.problem = "multipart/signed without a signature part"
		return s
	case !closed:
		s.problem = "message is truncated: the multipart/signed is not closed"
		return s
	}
	// A detached signature is certificates and a signature value: a few
	// kilobytes. Bounded, so that a forged huge one costs no more memory.
	der, err := sigPart.decodedBody(min(lim.MaxSize, maxDetachedSignature))
	if err != nil {
		s.problem = "signature part cannot be decoded: " + err.Error()
		return s
	}
	s.p7, err = parsePKCS7(der, lim.Certs)
	if err != nil {
		s.problem = "signature part is not a DER PKCS#7 structure: " + err.Error()
	}
	return s
}

const maxDetachedSignature = 32 << 20

func opaqueSignature(e *entity, lim Limits) *signature {
	s := &signature{form: "application/pkcs7-mime"}
	der, err := e.decodedBody(lim.MaxSize)
	if err != nil {
		s.problem = "pkcs7-mime body cannot be decoded: " + err.Error()
		return s
	}
	s.p7, err = parsePKCS7(der, lim.Certs)
	if err != nil {
		s.problem = "pkcs7-mime body is not a DER PKCS#7 structure: " + err.Error()
		return s
	}
	if len(s.p7.Content) == 0 {
		s.problem = "pkcs7-mime carries no content (detached signature without its message)"
		return s
	}
	s.content, s.signed = memSpan(s.p7.Content), true
	return s
}

// parsePKCS7 parses a CMS SignedData and insists that it is one; certs,
// when set, gives the certificates it carries when they were seen before.
func parsePKCS7(der []byte, certs *CertCache) (p7 *pkcs7.PKCS7, err error) {
	defer func() {
		if r := recover(); r != nil {
			p7, err = nil, errPanic(r)
		}
	}()
	// Badly nested BER makes the parser below work for seconds.
	if _, err := ber.Check(der); err != nil {
		return nil, err
	}
	var cached bool
	if certs != nil {
		p7, cached = parseCached(der, certs)
	}
	if !cached {
		if p7, err = pkcs7.Parse(der); err != nil {
			return nil, err
		}
	}
	if len(p7.Signers) == 0 {
		return nil, errNoSigners
	}
	return p7, nil
}

// certParts are the parts of the certified content that matter.
type certParts struct {
	daticert  *entity
	postacert *entity
}

// findCertParts walks the certified content (the signed entity, or the whole
// message when unsigned) for daticert.xml and postacert.eml, by file name
// first and by content second, without descending into embedded messages.
func findCertParts(root *entity, lim Limits, m *Message) certParts {
	var cp certParts
	var rfc822 *entity
	var walk func(e *entity, depth int)
	walk = func(e *entity, depth int) {
		if cp.daticert != nil && cp.postacert != nil {
			return
		}
		t, params := e.mediaType()
		multipart := strings.HasPrefix(t, "multipart/")
		var name string
		if !multipart {
			name = e.filename()
		}
		switch {
		case multipart:
			if depth >= lim.MaxDepth {
				m.warn("MIME nesting deeper than %d levels: not read further", lim.MaxDepth)
				return
			}
			parts, closed := multipartParts(e.body, params["boundary"])
			if !closed && params["boundary"] != "" {
				m.warn("%s part is not closed (truncated?)", t)
			}
			for i, raw := range parts {
				if i >= lim.MaxParts {
					m.warn("more than %d parts in one multipart: the rest was not read", lim.MaxParts)
					break
				}
				child, err := parseEntity(raw, lim)
				if child.headerTooLarge {
					m.warn("part %d of a %s: %v", i+1, t, err)
				}
				walk(child, depth+1)
			}
		case name == "daticert.xml":
			if cp.daticert == nil {
				cp.daticert = e
			}
		case name == "postacert.eml":
			if cp.postacert == nil {
				cp.postacert = e
			}
		case t == "message/rfc822":
			if rfc822 == nil {
				rfc822 = e
			}
		case (t == "application/xml" || t == "text/xml") && cp.daticert == nil:
			if data, err := e.decodedBody(1 << 20); err == nil && looksLikeDaticert(data) {
				cp.daticert = e
			}
		}
	}
	walk(root, 0)
	if cp.postacert == nil {
		cp.postacert = rfc822
	}
	return cp
}
