package archive

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"

	"github.com/conserva/conserva/internal/countio"
	"github.com/conserva/conserva/pec"
)

// exportMessage copies one stored message to put and parses it. A message
// over the parse limits (its size, or its header block) is streamed and
// described without being held in memory, as ingest does, so an export
// costs a bounded amount of memory whatever the message holds.
func exportMessage(rc io.Reader, size int64, lim pec.Limits, put func(io.Reader) error) (*pec.Message, error) {
	stream := func(src io.Reader, describe func(string, int64, pec.Limits) *pec.Message) (*pec.Message, error) {
		h := sha256.New()
		cr := &countio.Reader{R: io.TeeReader(src, h)}
		if err := put(cr); err != nil {
			return nil, err
		}
		return describe(hex.EncodeToString(h.Sum(nil)), cr.N, lim), nil
	}
	if size > lim.MaxSize {
		return stream(rc, pec.TooLarge)
	}
	var head []byte
	if size < 0 || size > int64(lim.MaxHeaderBytes) {
		var err error
		if head, err = readHead(rc, lim.MaxHeaderBytes+2); err != nil {
			return nil, err
		}
		if pec.HeaderTooLong(head, lim) {
			return stream(io.MultiReader(bytes.NewReader(head), rc), pec.HeaderTooLarge)
		}
	}
	raw, err := readAllSized(io.MultiReader(bytes.NewReader(head), rc), size, lim.MaxSize)
	if err != nil {
		return nil, err
	}
	if err := put(bytes.NewReader(raw)); err != nil {
		return nil, err
	}
	return pec.Parse(raw, lim), nil
}
