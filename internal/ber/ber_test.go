package ber_test

import (
	"bytes"
	"testing"

	"github.com/conserva/conserva/internal/ber"
)

func TestCheck(t *testing.T) {
	good := map[string][]byte{
		"primitive":              {0x04, 0x02, 'h', 'i'},
		"definite constructed":   {0x30, 0x04, 0x04, 0x02, 'h', 'i'},
		"indefinite":             {0x30, 0x80, 0x04, 0x01, 'x', 0x00, 0x00},
		"nested indefinite":      {0x30, 0x80, 0x30, 0x80, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00},
		"long length":            append([]byte{0x04, 0x81, 0x80}, bytes.Repeat([]byte{1}, 128)...),
		"trailing bytes ignored": {0x04, 0x00, 0xff, 0xff},
	}
	for name, b := range good {
		if _, err := ber.Check(b); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := map[string][]byte{
		"empty":                        {},
		"truncated":                    {0x04, 0x05, 'h'},
		"child past its parent":        {0x30, 0x02, 0x04, 0x05, 1, 2, 3, 4, 5},
		"indefinite child past parent": {0x30, 0x03, 0x30, 0x80, 0x04, 0x00, 0x00, 0x00},
		"indefinite primitive":         {0x04, 0x80, 0x00, 0x00},
		"unterminated indefinite":      {0x30, 0x80, 0x04, 0x00},
		"5-byte length":                {0x04, 0x85, 0, 0, 0, 0, 1},
		"too deep":                     append(bytes.Repeat([]byte{0x30, 0x80}, 100), bytes.Repeat([]byte{0, 0}, 100)...),
	}
	for name, b := range bad {
		if _, err := ber.Check(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestCheckDefinite: definite lengths in their shortest form pass; any
// other length form, which a BER-to-DER conversion would rewrite, fails,
// at any depth.
func TestCheckDefinite(t *testing.T) {
	good := map[string][]byte{
		"primitive":            {0x04, 0x02, 'h', 'i'},
		"definite constructed": {0x30, 0x04, 0x04, 0x02, 'h', 'i'},
		"long length":          append([]byte{0x04, 0x81, 0x80}, bytes.Repeat([]byte{1}, 128)...),
		"two-byte length":      append([]byte{0x30, 0x82, 0x01, 0x04, 0x04, 0x82, 0x01, 0x00}, bytes.Repeat([]byte{1}, 256)...),
	}
	for name, b := range good {
		if _, err := ber.CheckDefinite(b); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := map[string][]byte{
		"indefinite":            {0x30, 0x80, 0x04, 0x01, 'x', 0x00, 0x00},
		"nested indefinite":     {0x30, 0x06, 0x30, 0x80, 0x04, 0x00, 0x00, 0x00},
		"long form under 128":   {0x04, 0x81, 0x02, 'h', 'i'},
		"nested long under 128": {0x30, 0x05, 0x04, 0x81, 0x02, 'h', 'i'},
		"leading zero":          append([]byte{0x04, 0x82, 0x00, 0x80}, bytes.Repeat([]byte{1}, 128)...),
		"child past its parent": {0x30, 0x02, 0x04, 0x05, 1, 2, 3, 4, 5},
	}
	for name, b := range bad {
		if _, err := ber.CheckDefinite(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if _, err := ber.Check(b); err != nil && name != "child past its parent" {
			t.Errorf("%s: Check refuses it (%v): only CheckDefinite should", name, err)
		}
	}
}

func FuzzCheck(f *testing.F) {
	f.Add([]byte{0x30, 0x80, 0x04, 0x01, 'x', 0x00, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		end, err := ber.Check(b)
		if err == nil && (end <= 0 || end > len(b)) {
			t.Fatalf("end %d of %d bytes", end, len(b))
		}
	})
}
