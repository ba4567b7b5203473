// Command catbench makes a synthetic catalog and measures queries on it
// (scripts/bench.sh --section catalog).
//
//	catbench gen -archive DIR -n N [-insert] [-tmp DIR]
//	catbench store -archive DIR -n N   (messages in the store, no catalog)
//	catbench query -archive DIR -n N [-count 300] [-slow 5] [-cold] [-only REGEXP]
//
// query opens the archive as conserva serve does (archive.Shared, one
// catalog use per query) and prints, per kind of query, the hits, p50/p99
// of every run (none left out), the first and the worst, the CPU time and
// page faults a run took, then the process's resident memory. -cold evicts
// catalog.db from the page cache first. Every command takes -cpuprofile.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

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
	insert := fs.Bool("insert", false, "gen: insert in batches of a thousand, as ingest does (slow), instead of loading each bucket in key order")
	tmp := fs.String("tmp", "", "gen: directory for the sort's temporary runs (default: the system's)")
	cold := fs.Bool("cold", false, "evict catalog.db from the page cache first (posix_fadvise DONTNEED): the first queries read from disk")
	only := fs.String("only", "", "query: run only the kinds whose name matches this regular expression")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the queries to this file")
	fs.Parse(os.Args[2:])
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "catbench: -archive is required")
		os.Exit(2)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "catbench:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	var err error
	switch os.Args[1] {
	case "gen":
		start := time.Now()
		if *insert {
			err = catbench.Generate(*dir, *n, func(done int) {
				if done%100_000 == 0 {
					fmt.Fprintf(os.Stderr, "%d messages, %v\n", done, time.Since(start).Round(time.Second))
				}
			})
		} else {
			err = catbench.Load(*dir, *tmp, *n)
		}
		if err == nil {
			fmt.Printf("generated %d messages in %.1f s\n", *n, time.Since(start).Seconds())
		}
	case "store":
		start := time.Now()
		err = catbench.WriteStore(*dir, *n, func(done int) {
			fmt.Fprintf(os.Stderr, "%d messages, %v\n", done, time.Since(start).Round(time.Second))
		})
	case "query":
		if *cold {
			if err = evict(filepath.Join(*dir, "catalog.db")); err != nil {
				break
			}
		}
		var re *regexp.Regexp
		if re, err = regexp.Compile(*only); err == nil {
			err = query(*dir, *n, *count, *slow, re)
		}
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "catbench:", err)
		os.Exit(1)
	}
}

func query(dir string, n, count, slow int, only *regexp.Regexp) error {
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
		// "pratica<d>" begins the words of the dossiers numbered d0…, d00…
		// too: a word begins other words (the subject matches word starts).
		{"search --subject WORD (begins others' too)", slow, func(a *archive.Archive, d int) (int, error) {
			return search(a, archive.Query{Subject: "pratica" + strconv.Itoa(d)})
		}},
		// Numbers from a tenth of the dossiers up begin no other's.
		{"search --subject WORD (one dossier's only)", slow, func(a *archive.Archive, d int) (int, error) {
			d = dossiers/10 + d%max(1, dossiers-dossiers/10)
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
		if !only.MatchString(qu.name) {
			continue
		}
		var lat, cpu []time.Duration
		var first time.Duration
		var minflt, majflt int64
		hits := 0
		for i := range qu.runs {
			d := (i*7919 + 13) % dossiers
			u0 := usage()
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
			u1 := usage()
			cpu = append(cpu, u1.cpu-u0.cpu)
			minflt += u1.minflt - u0.minflt
			majflt += u1.majflt - u0.majflt
			if i == 0 {
				first = lat[0]
			}
		}
		p50, p99, worst := percentiles(lat)
		c50, c99, _ := percentiles(cpu)
		fmt.Printf("%-45s runs %4d  hits/run %6.1f  p50 %8.3f ms  p99 %8.3f ms  (first %7.1f, max %7.1f; CPU p50 %6.2f p99 %6.2f ms; faults/run minor %5.0f major %4.1f)  %s\n",
			qu.name, qu.runs, float64(hits)/float64(qu.runs), ms(p50), ms(p99), ms(first), ms(worst), ms(c50), ms(c99),
			float64(minflt)/float64(qu.runs), float64(majflt)/float64(qu.runs), rss())
	}
	return nil
}

// percentiles are the median, the 99th percentile and the largest of
// every run: none left out.
func percentiles(d []time.Duration) (p50, p99, worst time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2], s[min(len(s)-1, len(s)*99/100)], s[len(s)-1]
}

type rusage struct {
	cpu            time.Duration
	minflt, majflt int64
}

// usage is the process's CPU time (user and system) and page faults so far.
func usage() rusage {
	var u syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return rusage{time.Duration(u.Utime.Nano() + u.Stime.Nano()), u.Minflt, u.Majflt}
}

// evict drops a file's pages from the page cache, so that what follows
// reads it from disk, as after a reboot.
func evict(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
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
