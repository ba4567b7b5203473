// Package redact removes credentials from URLs before they are logged,
// printed, put into an error or written anywhere: a password given inside a
// URL (https://user:secret@tsa.example/…, imaps://user:secret@host/INBOX)
// must never leave memory.
package redact

import (
	"net/url"
	"regexp"
)

// URL returns raw without the password of its userinfo; the user name stays
// (it names the mailbox or account, and is no secret). Text that does not
// parse as a URL is redacted as free text.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return Text(raw)
	}
	if u.RawQuery != "" {
		// Query values may be keys or tokens: their names stay.
		q := u.Query()
		for k := range q {
			q[k] = []string{"REDACTED"}
		}
		u.RawQuery = q.Encode()
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.User(u.User.Username())
		}
	}
	return u.String()
}

// URLNoUserinfo returns raw without any userinfo (user and password): for
// what names a service, such as the TSA in a package index.
func URLNoUserinfo(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return Text(raw)
	}
	// Neither userinfo nor query (which may carry a key) nor fragment.
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

// userinfo matches "scheme://user:password@" anywhere in a text; a password
// in a valid URL holds no '/', '@' or blank (they are percent-encoded).
var userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]*):[^/\s@]*@`)

// Text removes the password of every URL found in s: for messages made by
// libraries (connection errors) that quote a URL they were given.
func Text(s string) string {
	s = userinfo.ReplaceAllString(s, "$1@")
	return secretParam.ReplaceAllString(s, "$1=REDACTED")
}

// secretParam matches a query parameter whose name says it holds a secret.
var secretParam = regexp.MustCompile(`(?i)([?&;](?:[a-z0-9_.\-]*(?:pass(?:word)?|pwd|secret|token|key|auth)[a-z0-9_.\-]*))=[^&\s"']*`)
