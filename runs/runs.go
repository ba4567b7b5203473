// Package runs is the history of the archive's runs (ingest, seal, audit,
// renew, export, reverify, the steps of a disposal and the nightly run):
// what each did, what went wrong, how long it took and who started it, for
// the records manager's page. The catalog keeps the last Keep of them.
package runs

import (
	"os"
	"os/user"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/conserva/conserva/internal/redact"
)

// Keep is how many runs the catalog keeps: older ones are dropped.
const Keep = 1000

// Bounds of what a run summary holds.
const (
	maxErrors = 20
	maxText   = 512
	maxArgs   = 32
)

// Outcomes of a run.
const (
	OK       = "ok"       // everything done
	Findings = "findings" // done, and something found wrong or failed (exit 1)
	Failed   = "failed"   // could not run
)

// Run is one command's summary.
type Run struct {
	Command  string           `json:"command"`
	Args     []string         `json:"args,omitempty"` // secrets removed
	User     string           `json:"user,omitempty"` // who ran it (the system user)
	Started  time.Time        `json:"started"`
	Finished time.Time        `json:"finished"`
	Outcome  string           `json:"outcome"`
	Counts   map[string]int64 `json:"counts,omitempty"`
	Errors   []string         `json:"errors,omitempty"`
}

// Duration is how long it ran.
func (r Run) Duration() time.Duration { return r.Finished.Sub(r.Started) }

// CountList is Counts in name order, for display.
func (r Run) CountList() []Count {
	out := make([]Count, 0, len(r.Counts))
	for k, v := range r.Counts {
		out = append(out, Count{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Count is one named count of a run.
type Count struct {
	Name string
	N    int64
}

// Key orders runs by start in the catalog: fixed width, so bytes sort as
// times do.
func (r Run) Key() []byte { return []byte(r.Started.UTC().Format("20060102T150405.000000000Z")) }

// New starts the summary of a command run now with args.
func New(command string, args []string) Run {
	r := Run{Command: command, Started: time.Now().UTC(), User: whoami()}
	for i, a := range args {
		if i == maxArgs {
			r.Args = append(r.Args, "…")
			break
		}
		r.Args = append(r.Args, clip(redact.Text(a)))
	}
	return r
}

// Finish ends the summary: the outcome, and err's text among the errors.
func (r *Run) Finish(outcome string, err error) {
	r.Finished = time.Now().UTC()
	r.Outcome = outcome
	if err != nil {
		r.Error(err.Error())
	}
}

// Error adds one error (secrets removed, bounded).
func (r *Run) Error(msg string) {
	if len(r.Errors) == maxErrors {
		r.Errors = append(r.Errors, "… more")
	}
	if len(r.Errors) > maxErrors {
		return
	}
	r.Errors = append(r.Errors, clip(redact.Text(msg)))
}

// Count sets a named count.
func (r *Run) Count(name string, n int64) {
	if r.Counts == nil {
		r.Counts = map[string]int64{}
	}
	r.Counts[name] = n
}

func clip(s string) string {
	if len(s) <= maxText {
		return s
	}
	s = s[:maxText]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

func whoami() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

// NextExpected guesses when the nightly job runs next from the runs of
// command (newest first): the last start plus the usual interval between
// starts (the median of the last few). ok is false when there are fewer
// than two such runs: no schedule is known.
func NextExpected(history []Run, command string) (next time.Time, ok bool) {
	var starts []time.Time
	for _, r := range history {
		if r.Command == command {
			starts = append(starts, r.Started)
			if len(starts) == 8 {
				break
			}
		}
	}
	if len(starts) < 2 {
		return time.Time{}, false
	}
	var gaps []time.Duration
	for i := 0; i+1 < len(starts); i++ {
		if g := starts[i].Sub(starts[i+1]); g > 0 {
			gaps = append(gaps, g)
		}
	}
	if len(gaps) == 0 {
		return time.Time{}, false
	}
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	return starts[0].Add(gaps[len(gaps)/2]), true
}
