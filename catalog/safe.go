package catalog

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/conserva/conserva/internal/catalogfmt"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrDamaged: the catalog file cannot be read. bbolt trusts its
// pages and panics on a damaged one; every access goes through safeDB, so
// that damage is this error, never a crash.
var ErrDamaged = errors.New("the catalog is damaged: run conserva catalog rebuild")

// safeDB is a bbolt database whose transactions turn a panic (a damaged
// page: bad type, bounds, a fault in the memory map) into ErrDamaged.
// bbolt rolls the transaction back on the way out, so its locks are
// released.
type safeDB struct{ *bolt.DB }

func (d safeDB) View(fn func(*bolt.Tx) error) (err error) {
	defer catchDamage(&err)()
	return d.DB.View(fn)
}

func (d safeDB) Update(fn func(*bolt.Tx) error) (err error) {
	defer catchDamage(&err)()
	return d.DB.Update(fn)
}

// catchDamage makes memory faults panics (not fatal signals) for the
// calling goroutine, and returns the deferred function that recovers them.
func catchDamage(err *error) func() {
	old := debug.SetPanicOnFault(true)
	return func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			*err = fmt.Errorf("%w (%v)", ErrDamaged, r)
		}
	}
}

// openBolt opens a bbolt file, with the same protection; a file bbolt
// refuses (both meta pages bad, not a bbolt file) is damage too.
func openBolt(path string, opts *bolt.Options) (db *bolt.DB, err error) {
	defer catchDamage(&err)()
	db, err = bolt.Open(path, 0o600, opts)
	for _, e := range []error{berrors.ErrInvalid, berrors.ErrChecksum, berrors.ErrVersionMismatch, berrors.ErrInvalidMapping} {
		if errors.Is(err, e) {
			return nil, fmt.Errorf("%w (%v)", ErrDamaged, err)
		}
	}
	return db, err
}

// decodeRecord reads a catalog record filed under key (its hex id): a
// compressed one (format 2: id and object key left out, they follow from
// the key) or JSON (format 1). It checks what every record must satisfy,
// so that a damaged value is reported as damage instead of being shown,
// sealed or exported as if it were true.
func decodeRecord(key, data []byte) (*Record, error) {
	var r Record
	packed := len(data) > 0 && data[0] != '{'
	js, err := catalogfmt.Unpack(data)
	if err == nil {
		err = json.Unmarshal(js, &r)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog record %.64q: %w (%v)", key, ErrDamaged, err)
	}
	if packed && r.ID == "" && r.Key == "" && len(key) == 64 {
		r.ID = string(key)
		r.Key = "messages/" + r.ID[:2] + "/" + r.ID + ".eml"
	}
	if err := r.check(string(key)); err != nil {
		return nil, fmt.Errorf("catalog record %.64q: %w (%v)", key, ErrDamaged, err)
	}
	return &r, nil
}

func (r *Record) check(key string) error {
	if len(r.ID) != 64 {
		return fmt.Errorf("id %.80q is not a SHA-256", r.ID)
	}
	if _, err := hex.DecodeString(r.ID); err != nil {
		return fmt.Errorf("id %.80q is not a SHA-256", r.ID)
	}
	if key != r.ID {
		return fmt.Errorf("filed under %.80q", key)
	}
	if r.Key != "messages/"+r.ID[:2]+"/"+r.ID+".eml" {
		return fmt.Errorf("object key %.80q does not match its id", r.Key)
	}
	if r.Size < 0 {
		return fmt.Errorf("size %d", r.Size)
	}
	return nil
}

// isDamaged says whether err reports a damaged catalog.
func isDamaged(err error) bool { return errors.Is(err, ErrDamaged) }
