// Package ber checks that BER bytes nest properly before a parser that
// does not insist on it reads them: smallstep/pkcs7 converts BER to DER by
// re-reading from where an indefinite-length child ended, even past its
// parent's end, so crafted input of a few kilobytes made it work for
// seconds (found by FuzzParse). Well-nested input it reads in linear time.
package ber

import (
	"errors"
	"fmt"
)

// Limits of what Check accepts: far beyond any CMS signature.
const (
	MaxDepth   = 64
	MaxObjects = 1 << 20
)

var errShort = errors.New("ber: truncated")

// Check walks the first BER object of b: every object's content within its
// parent's, indefinite lengths only on constructed objects and closed by
// an end-of-contents marker inside their parent, at most MaxDepth levels
// and MaxObjects objects. It returns the length of that object.
func Check(b []byte) (int, error) {
	c := checker{b: b}
	end, err := c.object(0, len(b), 0)
	return end, err
}

// CheckDefinite is Check that also insists on definite lengths, each in
// its shortest form, throughout: the form smallstep/pkcs7's BER-to-DER
// conversion gives back unchanged.
func CheckDefinite(b []byte) (int, error) {
	c := checker{b: b, definite: true}
	return c.object(0, len(b), 0)
}

type checker struct {
	b        []byte
	n        int
	definite bool
}

// object checks the object at off, which must end by limit, and returns
// where it ends.
func (c *checker) object(off, limit, depth int) (int, error) {
	if depth > MaxDepth {
		return 0, fmt.Errorf("ber: nested deeper than %d", MaxDepth)
	}
	if c.n++; c.n > MaxObjects {
		return 0, fmt.Errorf("ber: more than %d objects", MaxObjects)
	}
	if off >= limit {
		return 0, errShort
	}
	constructed := c.b[off]&0x20 != 0
	tagMulti := c.b[off]&0x1f == 0x1f
	off++
	if tagMulti {
		for i := 0; ; i++ {
			if off >= limit || i == 4 {
				return 0, errors.New("ber: bad tag")
			}
			more := c.b[off]&0x80 != 0
			off++
			if !more {
				break
			}
		}
	}
	if off >= limit {
		return 0, errShort
	}
	l := int(c.b[off])
	off++
	switch {
	case l == 0x80 && c.definite:
		return 0, errors.New("ber: indefinite length")
	case l == 0x80:
		if !constructed {
			return 0, errors.New("ber: indefinite length on a primitive object")
		}
		for {
			if off+2 <= limit && c.b[off] == 0 && c.b[off+1] == 0 {
				return off + 2, nil
			}
			end, err := c.object(off, limit, depth+1)
			if err != nil {
				return 0, err
			}
			off = end
		}
	case l > 0x84:
		return 0, errors.New("ber: length of more than 4 bytes")
	case l > 0x80:
		n := l & 0x7f
		if off+n > limit {
			return 0, errShort
		}
		if c.definite && c.b[off] == 0 {
			return 0, errors.New("ber: length with a leading zero")
		}
		l = 0
		for i := 0; i < n; i++ {
			l = l<<8 | int(c.b[off])
			off++
		}
		if c.definite && l < 0x80 {
			return 0, errors.New("ber: length in the long form under 128")
		}
	}
	if l < 0 || l > limit-off {
		return 0, errShort
	}
	end := off + l
	if constructed {
		for off < end {
			next, err := c.object(off, end, depth+1)
			if err != nil {
				return 0, err
			}
			off = next
		}
	}
	return end, nil
}
