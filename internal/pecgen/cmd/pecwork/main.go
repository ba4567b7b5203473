// Command pecwork does to every message file of a directory what an
// ingest does to it in package pec, and nothing else: read it, hash it,
// parse it, verify its signature with one certificate cache for the run,
// list its attachments; on as many workers as there are cores. Nothing is
// stored or catalogued. scripts/bench.sh prints its time beside the floor,
// so that each run shows how much of an ingest's time the PEC work alone
// takes on the same messages.
package main

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/conserva/conserva/pec"
)

func main() {
	trustFile := flag.String("trust", "", "trust anchors (PEM)")
	flag.Parse()
	if flag.NArg() != 1 || *trustFile == "" {
		fmt.Fprintln(os.Stderr, "usage: pecwork -trust FILE DIR")
		os.Exit(2)
	}
	n, valid, took, err := run(flag.Arg(0), *trustFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pecwork:", err)
		os.Exit(1)
	}
	fmt.Printf("%d messages, %d valid, %.3f s\n", n, valid, took.Seconds())
}

func run(dir, trustFile string) (int64, int64, time.Duration, error) {
	trust, err := pec.LoadTrustFile(trustFile)
	if err != nil {
		return 0, 0, 0, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, 0, err
	}
	start := time.Now()
	lim := pec.DefaultLimits()
	lim.Certs = pec.NewCertCache()
	names := make(chan string, 256)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		first    error
		n, valid atomic.Int64
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range names {
				raw, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					continue
				}
				m := pec.ParseHashed(raw, sha256.Sum256(raw), lim)
				if m.Verify(trust).Verdict == pec.Valid {
					valid.Add(1)
				}
				_, _ = m.Attachments()
				n.Add(1)
			}
		}()
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".eml") {
			names <- e.Name()
		}
	}
	close(names)
	wg.Wait()
	return n.Load(), valid.Load(), time.Since(start), first
}
