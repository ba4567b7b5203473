// Command catbench makes a synthetic catalog and measures queries on it
// (scripts/bench.sh --section catalog).
//
//	catbench gen -archive DIR -n N
//	catbench store -archive DIR -n N   (messages in the store, no catalog)
//	catbench query -archive DIR -n N [-count 300] [-slow 5]
//
// query opens the archive as conserva serve does (archive.Shared, one
// catalog use per query) and prints, per query, p50/p99 and the hits, then
// the process's resident memory after each kind of query.
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/internal/catbench"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: catbench gen|store|query -archive DIR -n N")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dir := fs.String("archive", "", "archive home")
	n := fs.Int("n", 1_000_000, "messages")
	count := fs.Int("count", 300, "runs of each indexed query")
	slow := fs.Int("slow", 5, "runs of each query that may scan")
	fs.Parse(os.Args[2:])
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "catbench: -archive is required")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		start := time.Now()
		err = catbench.Generate(*dir, *n, func(done int) {
			if done%100_000 == 0 {
				fmt.Fprintf(os.Stderr, "%d messages, %v\n", done, time.Since(start).Round(time.Second))
			}
		})
		if err == nil {
			fmt.Printf("generated %d messages in %.1f s\n", *n, time.Since(start).Seconds())
		}
	case "store":
		start := time.Now()
		err = catbench.WriteStore(*dir, *n, func(done int) {
			fmt.Fprintf(os.Stderr, "%d messages, %v\n", done, time.Since(start).Round(time.Second))
		})
	case "query":
		err = query(*dir, *n, *count, *slow)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "catbench:", err)
		os.Exit(1)
	}
}

func query(dir string, n, count, slow int) error {
	sh, err := archive.OpenShared(dir, nil)
	if err != nil {
		return err
	}
	dossiers := max(1, n/4)
	week := 7 * 24 * time.Hour
	type q struct {
		name string
		runs int
		fn   func(a *archive.Archive, d int) (int, error)
	}
	search := func(a *archive.Archive, qu archive.Query) (int, error) {
		hits := 0
		err := a.Search(qu, func(*archive.Record) error { hits++; return nil })
		return hits, err
	}
	queries := []q{
		{"search --message-id", count, func(a *archive.Archive, d int) (int, error) {
			return search(a, archive.Query{MessageID: catbench.MessageID(d)})
		}},
		{"search --to ADDR --since --until (2 weeks)", count, func(a *archive.Archive, d int) (int, error) {
			return search(a, archive.Query{To: catbench.Recipient(d), Since: catbench.Date(d).Add(-week), Until: catbench.Date(d).Add(week)})
		}},
		{"search --subject WORD (one dossier's)", slow, func(a *archive.Archive, d int) (int, error) {
			return search(a, archive.Query{Subject: "pratica" + strconv.Itoa(d)})
		}},
		{"search --subject WORD (no match)", slow, func(a *archive.Archive, d int) (int, error) {
			return search(a, archive.Query{Subject: "nomatch" + strconv.Itoa(d)})
		}},
		{"show DOSSIER", count, func(a *archive.Archive, d int) (int, error) {
			ds, err := a.FindDossier(catbench.MessageID(d))
			if err != nil {
				return 0, err
			}
			return len(ds.Messages), nil
		}},
	}
	fmt.Printf("catalog.db: %d bytes for %d messages, %.0f bytes per message\n", fileSize(dir+"/catalog.db"), n, float64(fileSize(dir+"/catalog.db"))/float64(n))
	fmt.Printf("RSS at start: %s\n", rss())
	for _, qu := range queries {
		var lat []time.Duration
		hits := 0
		for i := range qu.runs {
			d := (i*7919 + 13) % dossiers
			t0 := time.Now()
			err := sh.View(nil, func(a *archive.Archive) error {
				h, err := qu.fn(a, d)
				hits += h
				return err
			})
			if err != nil {
				return fmt.Errorf("%s: %w", qu.name, err)
			}
			lat = append(lat, time.Since(t0))
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		p50, p99 := lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
		fmt.Printf("%-45s runs %4d  hits/run %6.1f  p50 %9.3f ms  p99 %9.3f ms  %s\n", qu.name, qu.runs, float64(hits)/float64(qu.runs),
			ms(p50), ms(p99), rss())
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

// rss is the process's resident memory now and at its peak.
func rss() string {
	data, _ := os.ReadFile("/proc/self/status")
	var now, peak string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "VmRSS:" {
			now = f[1]
		}
		if len(f) >= 2 && f[0] == "VmHWM:" {
			peak = f[1]
		}
	}
	kb := func(s string) string { v, _ := strconv.Atoi(s); return fmt.Sprintf("%d MB", v/1024) }
	return "RSS " + kb(now) + " (peak " + kb(peak) + ")"
}
