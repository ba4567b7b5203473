package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/conserva/conserva/ingest"
	"github.com/conserva/conserva/internal/spool"
	"github.com/conserva/conserva/pec"
)

// spoolOver: a message larger than this is not read into memory but
// spooled to an unlinked temporary file, parsed and verified from it and
// stored from it, so that memory stays bounded up to the size limit
// (issue 12: under 200 MB for a 200 MB message). Smaller ones are read
// whole: one copy less, and several workers at once stay cheap.
const spoolOver = 16 << 20

// SpoolDir is where the archive's commands and sources keep temporary
// files (unlinked at once; large messages among them): on the archive's
// own disk rather than a possibly small /tmp.
func (a *Archive) SpoolDir() string { return filepath.Join(a.Dir, "spool") }

// ingestSpooled is ingestOne for a message over spoolOver: one pass to
// spool and hash it, then parse, verify and store from the spool.
func (a *Archive) ingestSpooled(ctx context.Context, it ingest.Item, opts IngestOptions, lim pec.Limits) outcome {
	o := outcome{source: it.Source, done: it.Done}
	sp := it.Spooled() // the source's own (IMAP), hashed already: not copied again
	if sp == nil {
		rc, err := it.Open()
		if err != nil {
			o.err = err
			return o
		}
		sp, err = spool.Write(a.SpoolDir(), rc, lim.MaxSize)
		rc.Close()
		if errors.Is(err, spool.ErrTooLarge) {
			// It grew past the limit since it was listed: streamed, flagged.
			return a.ingestLarge(ctx, it, opts, lim, pec.TooLarge)
		}
		if err != nil {
			o.err = fmt.Errorf("reading: %w", err)
			return o
		}
		defer sp.Close()
	}
	if a.arrived(&o, it, sp.SHA256) {
		return o
	}
	m := pec.ParseReaderAt(sp, sp.Size, sp.SHA256, lim)
	v := m.Verify(opts.Trust)
	if v.ReadErr != nil {
		o.err = fmt.Errorf("reading: %w", v.ReadErr)
		return o
	}
	return a.storeParsed(ctx, o, it, opts, m, v, sp.Reader())
}

// parseSpooled reads a stored message of any size within the limits into
// a parsed Message without holding it: spooled when over spoolOver, and
// put, when not nil, is given its bytes. The caller closes the returned
// closer once done with the Message.
func (a *Archive) parseSpooled(r io.Reader, lim pec.Limits, put func(io.Reader) error) (*pec.Message, io.Closer, error) {
	sp, err := spool.Write(a.SpoolDir(), r, lim.MaxSize)
	if err != nil {
		return nil, nil, err
	}
	if put != nil {
		if err := put(sp.Reader()); err != nil {
			sp.Close()
			return nil, nil, err
		}
	}
	return pec.ParseReaderAt(sp, sp.Size, sp.SHA256, lim), sp, nil
}

// parseStored parses a message read from r whose size the catalog gives:
// in memory when small, from a spool when over spoolOver. The closer is
// to be closed once done with the Message.
func (a *Archive) parseStored(r io.Reader, size int64, lim pec.Limits) (*pec.Message, io.Closer, error) {
	if size > spoolOver {
		return a.parseSpooled(r, lim, nil)
	}
	raw, err := readAllSized(r, size, lim.MaxSize)
	if err != nil {
		return nil, nil, err
	}
	return pec.Parse(raw, lim), io.NopCloser(nil), nil
}
