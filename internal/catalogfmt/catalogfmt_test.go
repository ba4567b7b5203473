package catalogfmt

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"slices"
	"testing"
	"time"
)

func TestIndexKeyOrder(t *testing.T) {
	d1 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	d2 := d1.Add(time.Second)
	keys := [][]byte{
		IndexKey("a@b", Stamp(&d2), 1),
		IndexKey("a@b", Stamp(&d1), 300),
		IndexKey("a@b", 0, 7),
		IndexKey("a@bc", 0, 1),
		IndexKey("a@b\x00x", Stamp(&d1), 1<<40),
	}
	for _, k := range keys {
		v, st, seq, ok := ParseIndexKey(k)
		if !ok || bytes.IndexByte(v, 0) >= 0 {
			t.Fatalf("%q: %q %d %d %v", k, v, st, seq, ok)
		}
	}
	v, st, seq, _ := ParseIndexKey(keys[4])
	if string(v) != "a@b x" || st != Stamp(&d1) || seq != 1<<40 {
		t.Fatalf("round trip: %q %d %d", v, st, seq)
	}
	slices.SortFunc(keys, bytes.Compare)
	// One value's keys together, in date order, before a longer value's.
	if _, st, seq, _ := ParseIndexKey(keys[0]); st != 0 || seq != 7 {
		t.Fatalf("first key %q", keys[0])
	}
	if _, _, seq, _ := ParseIndexKey(keys[2]); seq != 1 {
		t.Fatalf("third key %q", keys[2])
	}
	for _, bad := range [][]byte{nil, []byte("abc"), []byte("a\x00\x00\x00"), append([]byte("a\x00\x00\x00\x00\x00"), make([]byte, 9)...)} {
		if _, _, _, ok := ParseIndexKey(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
	before := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)
	if Stamp(nil) != 0 || Stamp(&before) != 0 {
		t.Fatal("no date and dates before 1970 must sort first")
	}
}

func TestWords(t *testing.T) {
	got := Words("POSTA CERTIFICATA: Decreto n. 4/2024 — décret, decreto")
	want := []string{"posta", "certificata", "decreto", "2024", "décret"}
	if !slices.Equal(got, want) {
		t.Fatalf("%q", got)
	}
}

func TestUnpack(t *testing.T) {
	rec := []byte(`{"size":1,"kind":"accettazione","subject":"x"}`)
	p := Pack(rec)
	if len(p) >= len(rec) {
		t.Errorf("packed %d bytes from %d", len(p), len(rec))
	}
	got, err := Unpack(p)
	if err != nil || !bytes.Equal(got, rec) {
		t.Fatalf("%q %v", got, err)
	}
	if got, err := Unpack(rec); err != nil || !bytes.Equal(got, rec) {
		t.Fatalf("format 1 JSON: %q %v", got, err)
	}
	for _, bad := range [][]byte{nil, {0x7f}, {packed}, append([]byte{packed}, 0xff, 0xff, 0xff), p[:len(p)-3]} {
		if _, err := Unpack(bad); !errors.Is(err, ErrFormat) && err == nil {
			t.Errorf("%x accepted", bad)
		}
	}
	// A value that inflates past MaxRecord is refused, not read whole.
	var bomb bytes.Buffer
	bomb.WriteByte(packed)
	w, _ := flate.NewWriterDict(&bomb, flate.BestCompression, dict)
	w.Write(bytes.Repeat([]byte{'a'}, MaxRecord+10))
	w.Close()
	if _, err := Unpack(bomb.Bytes()); !errors.Is(err, ErrFormat) {
		t.Fatalf("a %d-byte value inflating past the limit: %v", bomb.Len(), err)
	}
}

// FuzzAppendPack: what AppendPack appends is read back whole by Unpack
// (and by a plain inflater given the dictionary: raw DEFLATE, as
// docs/FORMAT.md says), whatever the data, the bytes before it untouched;
// AppendIndexKey appends IndexKey, NUL in the value included.
func FuzzAppendPack(f *testing.F) {
	f.Add([]byte("id"), []byte(`{"size":1,"kind":"accettazione","subject":"x"}`))
	f.Add([]byte(nil), sample)
	f.Add([]byte{0}, []byte("a\x00b"))
	f.Fuzz(func(t *testing.T, prefix, data []byte) {
		if len(data) > MaxRecord {
			return
		}
		// The fuzzer's arguments may share an array: appended to, the
		// prefix would write over data.
		prefix = slices.Clip(slices.Clone(prefix))
		before := slices.Clone(prefix)
		out := AppendPack(prefix, data)
		if !bytes.Equal(out[:len(before)], before) || out[len(before)] != packed {
			t.Fatalf("prefix %x became %x", before, out[:len(before)+1])
		}
		got, err := Unpack(out[len(before):])
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read back %q %v, want %q", got, err, data)
		}
		plain, err := io.ReadAll(flate.NewReaderDict(bytes.NewReader(out[len(before)+1:]), dict))
		if err != nil || !bytes.Equal(plain, data) {
			t.Fatalf("inflated %q %v, want %q", plain, err, data)
		}
		value := string(data)
		if k := AppendIndexKey(slices.Clone(prefix), value, 7, 300); !bytes.Equal(k, append(slices.Clone(prefix), IndexKey(value, 7, 300)...)) || bytes.IndexByte(k[len(prefix):len(prefix)+len(value)], 0) >= 0 {
			t.Fatalf("AppendIndexKey %q", k)
		}
	})
}
