package archive

import (
	"encoding/json"

	"github.com/conserva/conserva/runs"
)

// bucketRuns holds the run history (package runs), keyed by start time;
// made on the first run recorded, so older catalogs need nothing.

// RecordRun keeps a run's summary and drops the oldest beyond runs.Keep.
func (c *Catalog) RecordRun(r runs.Run) error {
	return c.PutNewest(bucketRuns, string(r.Key()), r, runs.Keep)
}

// Runs returns up to limit runs, newest first.
func (c *Catalog) Runs(limit int) ([]runs.Run, error) {
	var out []runs.Run
	if limit <= 0 {
		return out, nil
	}
	err := c.Each(bucketRuns, true, func(k, v []byte) error {
		var r runs.Run
		if err := json.Unmarshal(v, &r); err != nil {
			return damagedValue("run", k, err)
		}
		if out = append(out, r); len(out) == limit {
			return errStop
		}
		return nil
	})
	if err == errStop {
		err = nil
	}
	return out, err
}
