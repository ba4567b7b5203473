package pec

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/mail"
	"testing"

	"github.com/emersion/go-message/textproto"
)

// The fast paths of the parser each have a fuzz target that compares them
// with the straightforward code they replace, kept here as the reference.

// refReadHeader is readHeader as it was: hdr copied with the blank line
// after it, read through a fresh bufio.Reader.
func refReadHeader(hdr []byte) (textproto.Header, error) {
	buf := make([]byte, 0, len(hdr)+2)
	buf = append(buf, hdr...)
	buf = append(buf, "\r\n"...)
	return textproto.ReadHeader(bufio.NewReader(bytes.NewReader(buf)))
}

func headerText(h textproto.Header, err error) string {
	var b bytes.Buffer
	for f := h.Fields(); f.Next(); {
		raw, _ := f.Raw()
		fmt.Fprintf(&b, "%q=%q raw %q\n", f.Key(), f.Value(), raw)
	}
	fmt.Fprintf(&b, "err %v", err)
	return b.String()
}

// FuzzReadHeader: the pooled reader gives the fields, values, raw lines and
// error that a fresh reader gives, call after call (a value read earlier is
// not overwritten by a later call).
func FuzzReadHeader(f *testing.F) {
	f.Add([]byte("Subject: a\r\nFrom: b\r\n"), []byte("X: y\r\n\tcontinued\r\n"))
	f.Add([]byte(" bad first\r\n"), []byte("Bad Name: v\r\nok: 1"))
	f.Add(bytes.Repeat([]byte("X-Long: "+string(bytes.Repeat([]byte("v"), 5000))+"\r\n"), 3), []byte("A:\nB: c\n"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ha, ea := readHeader(a)
		hb, eb := readHeader(b)
		if got, want := headerText(ha, ea), headerText(refReadHeader(a)); got != want {
			t.Fatalf("first header:\n%s\nreference:\n%s", got, want)
		}
		if got, want := headerText(hb, eb), headerText(refReadHeader(b)); got != want {
			t.Fatalf("second header:\n%s\nreference:\n%s", got, want)
		}
	})
}

// refDecodedBody is decodedBody through go-message's decoder only.
func refDecodedBody(e *entity, max int64) ([]byte, error) {
	r, err := e.decodedReader()
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return data, fmt.Errorf("decoding %s body: %w", e.header.Get("Content-Transfer-Encoding"), err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("decoded body exceeds %d bytes", max)
	}
	return data, nil
}

// FuzzBase64Body: a base64 body decoded in one call gives the bytes that
// go-message's stream decoder gives, and whatever the one-call decoder
// does not take gives go-message's result and error, unchanged.
func FuzzBase64Body(f *testing.F) {
	f.Add([]byte("QUJD\r\nREVG\r\n"), "base64", int64(100))
	f.Add([]byte("QUI=\r\n"), "BASE64", int64(100))
	f.Add([]byte("QQ==QUJD"), "base64", int64(100))
	f.Add([]byte("QUI=\r\n=\r\n"), "base64", int64(100))
	f.Add([]byte("QU JD\tREVG"), "base64", int64(100))
	f.Add([]byte("QUJDREVG"), "base64", int64(5))
	f.Add([]byte("QUJ*REVG"), "base64", int64(100))
	f.Add([]byte("QUJDRE"), "base64", int64(100))
	f.Add([]byte("plain text"), "7bit", int64(100))
	f.Fuzz(func(t *testing.T, body []byte, cte string, max int64) {
		if max < 0 {
			max = -max
		}
		h := textproto.Header{}
		h.Set("Content-Transfer-Encoding", cte)
		e := &entity{header: h, body: memSpan(body)}
		want, wantErr := refDecodedBody(e, max)
		got, gotErr := e.decodedBody(max)
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("error %v, reference %v", gotErr, wantErr)
		}
		if wantErr == nil && !bytes.Equal(got, want) {
			t.Fatalf("decoded %q, reference %q", got, want)
		}
		if b, ok := e.base64Body(max); ok && (wantErr != nil || !bytes.Equal(b, want)) {
			t.Fatalf("one-call decoder took %q: %q, reference %q (%v)", body, b, want, wantErr)
		}
	})
}

// readerAtOnly hides that a source is in memory: the span is then read
// line by line, as from a file.
type readerAtOnly struct{ r *bytes.Reader }

func (o readerAtOnly) ReadAt(p []byte, off int64) (int, error) { return o.r.ReadAt(p, off) }

// FuzzMultipartParts: the parts found in memory by looking for the
// delimiter are those found reading the body line by line.
func FuzzMultipartParts(f *testing.F) {
	f.Add([]byte("pre\r\n--b\r\nH: v\r\n\r\nuno\r\n--b\r\n\r\ndue\n--b--\r\nepi"), "b", 0)
	f.Add([]byte("--b\n\nx\n--b--\n"), "b", 1)
	f.Add([]byte("x--b\r\n--bb\r\n--b \t\r\n\r\n\n--b--"), "b", 2)
	f.Add([]byte("--b\r\n\r\nabc"), "b", 0)
	f.Add([]byte("\r\n--\r\n--\r\n----\r\n"), "", 0)
	f.Add([]byte("--a\nb\r\n--a\nb--"), "a\nb", 0)
	f.Fuzz(func(t *testing.T, body []byte, boundary string, skip int) {
		if len(body) > 32<<10 {
			return
		}
		// A part of a larger message: offsets count from the message.
		skip = min(max(skip, 0), 8)
		whole := append(bytes.Repeat([]byte{'\n'}, skip), body...)
		mem := memSpan(whole).sub(int64(skip), int64(len(body)))
		file := span{src: readerAtOnly{bytes.NewReader(whole)}, n: int64(len(whole))}.sub(int64(skip), int64(len(body)))
		gp, gc := multipartParts(mem, boundary)
		wp, wc := multipartParts(file, boundary)
		if gc != wc || len(gp) != len(wp) {
			t.Fatalf("closed %v, %d parts; line by line closed %v, %d parts", gc, len(gp), wc, len(wp))
		}
		for i := range gp {
			if gp[i].off != wp[i].off || gp[i].n != wp[i].n {
				t.Fatalf("part %d at %d+%d; line by line at %d+%d", i, gp[i].off, gp[i].n, wp[i].off, wp[i].n)
			}
		}
	})
}

// FuzzQuickDate: whatever quickDate reads, net/mail reads the same.
func FuzzQuickDate(f *testing.F) {
	f.Add("Mon, 30 Nov 2026 17:05:57 +0000")
	f.Add("Tue, 3 Feb 2015 09:05:07 -0130")
	f.Add("Tue,  3 Feb 2015 09:05:07 +0100")
	f.Add("Mon, 30 Nov 26 17:05:57 +0000")
	f.Add("30 Nov 2026 17:05:57 +0000")
	f.Add("Mon, 30 Nov 2026 17:05 +0000")
	f.Add("Mon, 30 Nov 2026 17:05:57 GMT")
	f.Add("Sun, 30 Nov 2026 17:05:57 +0000 (CET)")
	f.Fuzz(func(t *testing.T, v string) {
		got, ok := quickDate(v)
		if !ok {
			return
		}
		want, err := mail.ParseDate(v)
		if err != nil || !got.Equal(want) || got.String() != want.String() {
			t.Fatalf("%q: %v; net/mail %v (%v)", v, got, want, err)
		}
	})
}
