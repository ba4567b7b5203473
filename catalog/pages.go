package catalog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	bolt "go.etcd.io/bbolt"
)

// checkPageBounds reads every page in use from the catalog file itself
// (not through bbolt's map) and checks that each element's key and value
// lie inside their page. bbolt's Check follows them without looking, in a
// goroutine of its own: a damaged element made it read outside the file,
// a memory fault that kills the process (found by
// TestDamagedCatalogNeverPanics). Layout: bbolt's page header (16 bytes:
// id, flags, count, overflow) and 16-byte elements (branch: pos, ksize,
// pgid; leaf: flags, pos, ksize, vsize), pos counted from the element.
func checkPageBounds(tx *bolt.Tx) error {
	db := tx.DB()
	ps := db.Info().PageSize
	f, err := os.Open(db.Path())
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	pages := int(st.Size() / int64(ps))
	const hdr, elem = 16, 16
	var buf []byte
	for id := 2; id < pages; {
		info, err := tx.Page(id)
		if err != nil {
			return err
		}
		if info == nil {
			break // past the last page in use
		}
		if info.Type != "branch" && info.Type != "leaf" {
			id++ // free, freelist, meta: nothing of ours to follow
			continue
		}
		span := 1 + info.OverflowCount
		if info.OverflowCount < 0 || id+span > pages {
			return fmt.Errorf("%w (page %d runs past the end of the file)", ErrDamaged, id)
		}
		size := span * ps
		if cap(buf) < size {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if _, err := f.ReadAt(buf, int64(id)*int64(ps)); err != nil && err != io.EOF {
			return err
		}
		if hdr+info.Count*elem > size {
			return fmt.Errorf("%w (page %d claims %d elements)", ErrDamaged, id, info.Count)
		}
		for i := 0; i < info.Count; i++ {
			off := hdr + i*elem
			var start, end uint64
			if info.Type == "branch" {
				pos, ksize := binary.LittleEndian.Uint32(buf[off:]), binary.LittleEndian.Uint32(buf[off+4:])
				start = uint64(off) + uint64(pos)
				end = start + uint64(ksize)
			} else {
				pos := binary.LittleEndian.Uint32(buf[off+4:])
				ksize, vsize := binary.LittleEndian.Uint32(buf[off+8:]), binary.LittleEndian.Uint32(buf[off+12:])
				start = uint64(off) + uint64(pos)
				end = start + uint64(ksize) + uint64(vsize)
			}
			if end > uint64(size) {
				return fmt.Errorf("%w (page %d, element %d points outside its page)", ErrDamaged, id, i)
			}
		}
		id += span
	}
	return nil
}

// CheckPages runs bbolt's consistency check of every page, and returns
// the damage found, a sentence each.
func (c *Catalog) CheckPages() []string {
	var probs []string
	err := c.db.View(func(tx *bolt.Tx) error {
		// Every page is read here first: a damaged one faults in this
		// goroutine, where safeDB turns the fault into ErrDamaged.
		// bbolt's Check reads pages in a goroutine of its own, where a
		// fault would kill the process.
		if err := walkBuckets(tx); err != nil {
			return err
		}
		if err := checkPageBounds(tx); err != nil {
			return err
		}
		for err := range tx.Check() {
			if len(probs) < 20 {
				probs = append(probs, fmt.Sprintf("%v: %v", ErrDamaged, err))
			}
		}
		return nil
	})
	if err != nil {
		probs = append(probs, err.Error())
	}
	return probs
}

// walkBuckets reads every byte of every key and value of every bucket,
// nested ones included, and compares each key with the one before, as
// bbolt's Check will: a slice whose page header was damaged can point
// outside the file, and only touching its bytes faults here.
func walkBuckets(tx *bolt.Tx) error {
	var sink byte
	touch := func(b []byte) {
		for _, c := range b {
			sink ^= c
		}
	}
	var walk func(b *bolt.Bucket, depth int) error
	walk = func(b *bolt.Bucket, depth int) error {
		if depth > 8 {
			return fmt.Errorf("%w (buckets nested %d deep)", ErrDamaged, depth)
		}
		var prev []byte
		return b.ForEach(func(k, v []byte) error {
			touch(k)
			touch(v)
			if prev != nil && bytes.Compare(prev, k) >= 0 {
				return fmt.Errorf("%w (keys out of order)", ErrDamaged)
			}
			prev = k
			if v == nil {
				if child := b.Bucket(k); child != nil {
					return walk(child, depth+1)
				}
			}
			return nil
		})
	}
	err := tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walk(b, 1) })
	_ = sink
	return err
}
