package pec

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"sync"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // registers ISO-8859-*, windows-125x, … for decoding
	"github.com/emersion/go-message/textproto"
)

// entity is one MIME entity seen as raw bytes. go-message parses headers and
// decodes bodies, but it cannot tell where a part's bytes start and end; a
// signature covers exactly those bytes, so the split into parts is done here
// on the raw input and only the interpretation is left to go-message.
type entity struct {
	raw    span // the whole entity, header and body, as it arrived
	header textproto.Header
	body   span // raw (still transfer-encoded) body
	// headerRepaired is set when malformed header lines had to be skipped.
	headerRepaired bool
	// headerTooLarge: the header block exceeds MaxHeaderBytes and was not read.
	headerTooLarge bool
	// longFields names the fields left out for a line over MaxHeaderLine.
	longFields []string
	// ctype, cparams: mediaType's result, read once (ctRead).
	ctype   string
	cparams map[string]string
	ctRead  bool
}

// parseEntity splits raw into header and body and parses the header. It
// never fails on malformed header lines: those are dropped from the parsed
// view (the raw bytes stay as they are) and headerRepaired is set. The
// header is read within lim: a header block over MaxHeaderBytes is not read
// at all (headerTooLarge), a field with a line over MaxHeaderLine is left
// out (longFields), so a hostile header costs a known amount of memory.
// Only the header block is read from raw: the body stays where it is.
func parseEntity(raw span, lim Limits) (*entity, error) {
	e := &entity{raw: raw, header: textproto.Header{}}
	limit := raw.n
	if lim.MaxHeaderBytes > 0 {
		// Enough to see the blank line that ends a header of the limit.
		limit = min(limit, int64(lim.MaxHeaderBytes)+2)
	}
	head, err := raw.head(limit)
	if err != nil {
		return e, err
	}
	hdr, bodyAt := splitHeader(head)
	if bodyAt < 0 {
		// No blank line within head: all of it is header, and more when
		// the entity goes on past what was read.
		if int64(len(head)) < raw.n {
			e.headerTooLarge = true
			return e, fmt.Errorf("header block exceeds the %d-byte limit: not read", lim.MaxHeaderBytes)
		}
		e.body = raw.sub(raw.n, 0)
	} else {
		e.body = raw.sub(int64(bodyAt), raw.n)
	}
	if lim.MaxHeaderBytes > 0 && len(hdr) > lim.MaxHeaderBytes {
		e.headerTooLarge = true
		return e, fmt.Errorf("header block of %d bytes exceeds the %d-byte limit: not read", len(hdr), lim.MaxHeaderBytes)
	}
	if lim.MaxHeaderLine > 0 {
		hdr, e.longFields = dropLongFields(hdr, lim.MaxHeaderLine)
	}
	h, err := readHeader(hdr)
	if err != nil {
		h, err = readHeader(cleanHeader(hdr))
		if err != nil {
			return e, fmt.Errorf("unreadable header: %s", clipText(err.Error(), 200))
		}
		e.headerRepaired = true
	}
	e.header = h
	return e, nil
}

// memParts is multipartParts for a body in memory, b: it looks for the
// delimiter itself rather than at every line, so that the lines of a
// large base64 part cost nothing. Same rules, same result.
func memParts(body span, b, delim []byte) (parts []span, closed bool) {
	start := int64(-1)
	for at := 0; at < len(b); {
		i := bytes.Index(b[at:], delim)
		if i < 0 {
			break
		}
		off := at + i
		if off > 0 && b[off-1] != '\n' {
			// Not at the start of a line. (Checked before looking for the
			// line's end: a long line full of the delimiter costs one pass.)
			at = off + 1
			continue
		}
		next := len(b) // the end of the delimiter's line
		if j := bytes.IndexByte(b[off:], '\n'); j >= 0 {
			next = off + j + 1
		}
		at = next
		rest := bytes.TrimRight(b[off+len(delim):next], " \t\r\n")
		isClose := bytes.Equal(rest, []byte("--"))
		if len(rest) != 0 && !isClose {
			continue
		}
		if start >= 0 {
			end := int64(off)
			if end > start {
				// The line break before a delimiter belongs to it.
				var eol int64
				if off > 0 { // b[off-1] is '\n'
					eol = 1
					if off > 1 && b[off-2] == '\r' {
						eol = 2
					}
				}
				end -= min(eol, end-start)
			}
			parts = append(parts, body.sub(start, end-start))
		}
		if isClose {
			return parts, true
		}
		start = int64(next)
	}
	if start >= 0 && start < body.n {
		parts = append(parts, body.sub(start, body.n-start))
	}
	return parts, false
}

// dropLongFields removes the fields (a field line and its continuation
// lines) that have a line longer than max bytes, and names them.
func dropLongFields(hdr []byte, max int) ([]byte, []string) {
	long := false
	for rest := hdr; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			i = len(rest)
		}
		if i > max {
			long = true
			break
		}
		rest = rest[min(i+1, len(rest)):]
	}
	if !long {
		return hdr, nil
	}
	var out bytes.Buffer
	var names []string
	var field [][]byte
	flush := func() {
		tooLong := false
		for _, l := range field {
			if len(bytes.TrimRight(l, "\r\n")) > max {
				tooLong = true
			}
		}
		if tooLong {
			name := field[0]
			if c := bytes.IndexByte(name, ':'); c >= 0 && c <= 100 {
				name = name[:c]
			}
			names = append(names, clipText(string(name), 100))
		} else {
			for _, l := range field {
				out.Write(l)
			}
		}
		field = field[:0]
	}
	for _, line := range bytes.SplitAfter(hdr, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && len(field) > 0 {
			field = append(field, line)
			continue
		}
		if len(field) > 0 {
			flush()
		}
		field = append(field, line)
	}
	if len(field) > 0 {
		flush()
	}
	return out.Bytes(), names
}

// clipText keeps error texts that quote input to a readable size.
func clipText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func readHeader(hdr []byte) (textproto.Header, error) {
	// A fresh bufio.Reader and a copy of hdr for each header block were a
	// third of what a parse allocated. ReadHeader copies whatever it keeps
	// out of the reader's buffer (readLineSlice appends to its own slice),
	// so the reader can be used again once it returns.
	hr := headerReaders.Get().(*headerReader)
	defer headerReaders.Put(hr)
	hr.src = hdrSource{hdr: hdr, end: "\r\n"} // ReadHeader wants the blank line that ends the header
	hr.br.Reset(&hr.src)
	defer func() { hr.src = hdrSource{}; hr.br.Reset(nil) }()
	return textproto.ReadHeader(&hr.br)
}

// headerReader is readHeader's reader, kept between calls.
type headerReader struct {
	src hdrSource
	br  bufio.Reader
}

var headerReaders = sync.Pool{New: func() any {
	hr := new(headerReader)
	hr.br = *bufio.NewReader(nil)
	return hr
}}

// hdrSource reads hdr, then end: a header block and the blank line after
// it, without copying them together first.
type hdrSource struct {
	hdr []byte
	end string
}

func (s *hdrSource) Read(p []byte) (int, error) {
	if len(s.hdr) > 0 {
		n := copy(p, s.hdr)
		s.hdr = s.hdr[n:]
		return n, nil
	}
	if len(s.end) > 0 {
		n := copy(p, s.end)
		s.end = s.end[n:]
		return n, nil
	}
	return 0, io.EOF
}

// splitHeader returns the header block (without the blank line) and where
// the body starts, -1 when there is no blank line: all of raw is header.
func splitHeader(raw []byte) (hdr []byte, bodyAt int) {
	// The header ends at the first empty line, CRLF or bare LF.
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\n')
		if j < 0 {
			return raw, -1
		}
		line := raw[i : i+j]
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			return raw[:i], i + j + 1
		}
		i += j + 1
	}
	return raw, -1
}

// cleanHeader keeps only the lines a strict parser accepts: "Name: value"
// and their continuation lines. It exists so that one bad line (a stray
// word, a binary byte in a name) does not hide every other header.
func cleanHeader(hdr []byte) []byte {
	var out bytes.Buffer
	keep := false
	for _, line := range bytes.SplitAfter(hdr, []byte("\n")) {
		trimmed := bytes.TrimRight(line, "\r\n")
		if len(trimmed) == 0 {
			continue
		}
		if trimmed[0] == ' ' || trimmed[0] == '\t' {
			if keep {
				out.Write(line)
			}
			continue
		}
		colon := bytes.IndexByte(trimmed, ':')
		keep = colon > 0 && validFieldName(trimmed[:colon])
		if keep {
			out.Write(line)
		}
	}
	return out.Bytes()
}

func validFieldName(name []byte) bool {
	for _, c := range name {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// mediaType returns the lower-cased media type and its parameters; a
// missing or unparsable Content-Type is text/plain, as RFC 2045 says.
// Read once: the walks over a message ask each part for it several times.
// Callers must not modify the map.
func (e *entity) mediaType() (string, map[string]string) {
	if !e.ctRead {
		e.ctype, e.cparams = e.readMediaType()
		e.ctRead = true
	}
	return e.ctype, e.cparams
}

func (e *entity) readMediaType() (string, map[string]string) {
	v := e.header.Get("Content-Type")
	if v == "" {
		return "text/plain", map[string]string{}
	}
	t, params, err := mime.ParseMediaType(v)
	if err != nil && t == "" {
		// ParseMediaType gives up on a bad parameter; keep the type itself.
		t = strings.ToLower(strings.TrimSpace(strings.SplitN(v, ";", 2)[0]))
	}
	if params == nil {
		params = map[string]string{}
	}
	return t, params
}

// filename is the part's file name from Content-Disposition or the
// Content-Type name parameter, lower-cased.
func (e *entity) filename() string {
	if v := e.header.Get("Content-Disposition"); v != "" {
		if _, p, err := mime.ParseMediaType(v); err == nil && p["filename"] != "" {
			return strings.ToLower(p["filename"])
		}
	}
	_, p := e.mediaType()
	return strings.ToLower(p["name"])
}

// decodedBody returns the body with its Content-Transfer-Encoding undone,
// limited to max bytes. Charsets are left alone: callers decide.
func (e *entity) decodedBody(max int64) ([]byte, error) {
	if b, ok := e.base64Body(max); ok {
		return b, nil
	}
	r, err := e.decodedReader()
	if err != nil {
		return nil, err
	}
	// Decoded is never longer than encoded: one allocation, not io.ReadAll's
	// doublings (a large share of an ingest's allocations).
	buf := bytes.NewBuffer(make([]byte, 0, min(e.body.n, max)+bytes.MinRead))
	_, err = buf.ReadFrom(io.LimitReader(r, max+1))
	data := buf.Bytes()
	if err != nil {
		return data, fmt.Errorf("decoding %s body: %w", e.header.Get("Content-Transfer-Encoding"), err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("decoded body exceeds %d bytes", max)
	}
	return data, nil
}

// base64Body is decodedBody for a base64 body in memory that decodes
// without error within max bytes, in one call; false for anything else
// (the caller then takes go-message's decoder, whose errors it reports).
func (e *entity) base64Body(max int64) ([]byte, bool) {
	src, ok := e.body.src.(memSrc)
	if !ok || !strings.EqualFold(e.header.Get("Content-Transfer-Encoding"), "base64") {
		return nil, false
	}
	body := src[e.body.off : e.body.off+e.body.n]
	n, ok := cleanBase64Len(body)
	if !ok || int64(n) > max {
		return nil, false
	}
	out := make([]byte, n)
	if k, err := base64.StdEncoding.Decode(out, body); err != nil || k != n {
		return nil, false
	}
	return out, true
}

// cleanBase64Len is the decoded length of base64 text that a decoder reading
// it in a stream (go-message's, which drops line breaks, spaces and tabs)
// and one decoding it whole give alike: text in lines of any length, whole
// groups of four characters, padding only at its very end; false when the
// text is not like that (spaces or tabs in it, a group cut short, padding
// in the middle, which a stream decoder may accept between its reads).
// Characters outside the alphabet are left to the decoder, which refuses them.
func cleanBase64Len(b []byte) (int, bool) {
	if bytes.IndexByte(b, ' ') >= 0 || bytes.IndexByte(b, '\t') >= 0 {
		return 0, false
	}
	chars := len(b) - bytes.Count(b, []byte{'\r'}) - bytes.Count(b, []byte{'\n'})
	if chars%4 != 0 {
		return 0, false
	}
	pad := 0
	if i := bytes.IndexByte(b, '='); i >= 0 {
		for _, c := range b[i:] {
			switch c {
			case '=':
				pad++
			case '\r', '\n':
			default:
				return 0, false
			}
		}
	}
	if pad > 2 {
		return 0, false
	}
	return chars/4*3 - pad, true
}

// decodedReader streams the body with its Content-Transfer-Encoding undone.
func (e *entity) decodedReader() (io.Reader, error) {
	h := textproto.Header{}
	if cte := e.header.Get("Content-Transfer-Encoding"); cte != "" {
		h.Set("Content-Transfer-Encoding", cte)
	}
	// A bare header keeps go-message from converting charsets: only the
	// transfer encoding is undone.
	m, err := message.New(message.Header{Header: h}, e.body.reader())
	if err != nil && !message.IsUnknownEncoding(err) {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("undecodable body")
	}
	return m.Body, nil
}

// multipartParts splits a multipart body into the raw bytes of its parts.
// closed reports whether the closing delimiter was found: a multipart
// without it was cut short. The body is read line by line, never held.
func multipartParts(body span, boundary string) (parts []span, closed bool) {
	delim := []byte("--" + boundary)
	if m, ok := body.src.(memSrc); ok && bytes.IndexByte(delim, '\n') < 0 {
		return memParts(body, m[body.off:body.off+body.n], delim)
	}
	start := int64(-1) // start of the current part's content
	// The line break before a delimiter belongs to it (RFC 2046): lastEOL
	// is the length of the line break that ended the previous line.
	var lastEOL int64
	var prev byte
	err := body.lines(func(off int64, line []byte, lineStart bool) bool {
		next := off + int64(len(line))
		if lineStart && bytes.HasPrefix(line, delim) {
			rest := bytes.TrimRight(line[len(delim):], " \t\r\n")
			isClose := bytes.Equal(rest, []byte("--"))
			if len(rest) == 0 || isClose {
				if start >= 0 {
					end := off
					if end > start {
						end -= min(lastEOL, end-start)
					}
					parts = append(parts, body.sub(start, end-start))
				}
				if isClose {
					closed = true
					return false
				}
				start = next
			}
		}
		n := len(line)
		switch {
		case line[n-1] != '\n':
			lastEOL = 0
		case n > 1 && line[n-2] == '\r', n == 1 && prev == '\r':
			lastEOL = 2
		default:
			lastEOL = 1
		}
		prev = line[n-1]
		return true
	})
	if err != nil || closed {
		return parts, closed && err == nil
	}
	if start >= 0 && start < body.n {
		// An unterminated last part is still returned so that what is there
		// can be read; closed=false says it is incomplete.
		parts = append(parts, body.sub(start, body.n-start))
	}
	return parts, false
}
