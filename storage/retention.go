package storage

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Retention is how long stored objects are kept, in calendar terms: ten
// years are ten years, leap days included.
type Retention struct {
	Years, Days int
}

// DefaultRetention is ten years (codice civile art. 2220).
var DefaultRetention = Retention{Years: 10}

// maxRetentionYears bounds a retention: far beyond any law, far below an
// overflow.
const maxRetentionYears = 1000

// ParseRetention reads "10y", "3650d", "10y30d".
func ParseRetention(s string) (Retention, error) {
	var r Retention
	rest := strings.ToLower(strings.TrimSpace(s))
	if rest == "" {
		return r, fmt.Errorf("empty retention")
	}
	for rest != "" {
		i := strings.IndexAny(rest, "yd")
		if i <= 0 {
			return Retention{}, fmt.Errorf("retention %q: use forms like 10y or 3650d", s)
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil || n < 0 {
			return Retention{}, fmt.Errorf("retention %q: use forms like 10y or 3650d", s)
		}
		if rest[i] == 'y' {
			r.Years += n
		} else {
			r.Days += n
		}
		// Bounded: an overflowing number must never wrap into a retention
		// that has already ended (scarto deletes by it).
		if r.Years > maxRetentionYears || r.Days > maxRetentionYears*366 {
			return Retention{}, fmt.Errorf("retention %q: more than %d years", s, maxRetentionYears)
		}
		rest = rest[i+1:]
	}
	if r.Years == 0 && r.Days == 0 {
		return Retention{}, fmt.Errorf("retention %q is zero", s)
	}
	return r, nil
}

// Until is the end of the retention of an object written at t.
func (r Retention) Until(t time.Time) time.Time { return t.AddDate(r.Years, 0, r.Days) }

func (r Retention) String() string {
	switch {
	case r.Days == 0:
		return fmt.Sprintf("%dy", r.Years)
	case r.Years == 0:
		return fmt.Sprintf("%dd", r.Days)
	}
	return fmt.Sprintf("%dy%dd", r.Years, r.Days)
}
