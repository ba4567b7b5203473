package archive

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// eachIndexFile calls fn with every File of a package index that has a
// Path and a Hash child, as indexFiles lists them, read token by token: a
// 100,000-message index is never held as a tree. An index that does not
// parse gives no File at all (as indexFiles): it is read once to the end
// before fn is first called.
func eachIndexFile(index []byte, fn func(indexFile) error) error {
	open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(index)), nil }
	_, err := eachIndexFileFrom(open, fn)
	return err
}

// eachIndexFileFrom is eachIndexFile over an index opened twice (to check
// it parses, then for fn), never held; it returns the SHA-256 of what the
// second reading read, so that the caller can tell it is the index whose
// signature it checked.
func eachIndexFileFrom(open func() (io.ReadCloser, error), fn func(indexFile) error) ([32]byte, error) {
	var sum [32]byte
	for pass := range 2 {
		rc, err := open()
		if err != nil {
			return sum, err
		}
		h := sha256.New()
		each := func(indexFile) error { return nil }
		if pass == 1 {
			each = fn
		}
		err = walkIndexFiles(io.TeeReader(bufio.NewReaderSize(rc, 64<<10), h), each)
		rc.Close()
		if err != nil {
			return sum, err
		}
		copy(sum[:], h.Sum(nil))
	}
	return sum, nil
}

func walkIndexFiles(index io.Reader, fn func(indexFile) error) error {
	dec := xml.NewDecoder(index)
	type frame struct {
		name             string
		file             bool
		path, hash       *strings.Builder
		inChild          bool // a child element of this one has begun: text after it is not Text()
		pathSet, hashSet bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if len(stack) > 0 {
				return fmt.Errorf("index.xml: %w", io.ErrUnexpectedEOF)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("index.xml: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if n := len(stack); n > 0 {
				stack[n-1].inChild = true
			}
			f := &frame{name: t.Name.Local, file: t.Name.Local == "File"}
			if n := len(stack); n > 0 && stack[n-1].file {
				p := stack[n-1]
				// The first Path and the first Hash child, as etree's SelectElement.
				if f.name == "Path" && !p.pathSet {
					p.pathSet, p.path = true, &strings.Builder{}
					f.path = p.path
				} else if f.name == "Hash" && !p.hashSet {
					p.hashSet, p.hash = true, &strings.Builder{}
					f.hash = p.hash
				}
			}
			stack = append(stack, f)
		case xml.CharData:
			if n := len(stack); n > 0 && !stack[n-1].inChild {
				f := stack[n-1]
				if f.path != nil {
					f.path.Write(t)
				} else if f.hash != nil {
					f.hash.Write(t)
				}
			}
		case xml.EndElement:
			n := len(stack)
			if n == 0 {
				return fmt.Errorf("index.xml: unbalanced end element %s", t.Name.Local)
			}
			f := stack[n-1]
			stack = stack[:n-1]
			if f.file && f.path != nil && f.hash != nil {
				if err := fn(indexFile{Path: strings.TrimSpace(f.path.String()), SHA256: strings.TrimSpace(f.hash.String())}); err != nil {
					return err
				}
			}
		}
	}
}
