package archive

import (
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
			return fmt.Errorf("%w (page %d runs past the end of the file)", ErrCatalogDamaged, id)
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
			return fmt.Errorf("%w (page %d claims %d elements)", ErrCatalogDamaged, id, info.Count)
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
				return fmt.Errorf("%w (page %d, element %d points outside its page)", ErrCatalogDamaged, id, i)
			}
		}
		id += span
	}
	return nil
}
