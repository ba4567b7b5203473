package main

import (
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

// CONSERVA_HEAPPROFILE=FILE writes a heap profile whenever the heap is
// at its highest so far (looked at every second, until the command
// exits): where a long command's memory goes, for go tool pprof.
func heapProfile() {
	p := os.Getenv("CONSERVA_HEAPPROFILE")
	if p == "" {
		return
	}
	runtime.MemProfileRate = 64 << 10
	go func() {
		var top uint64
		for range time.Tick(time.Second) {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > top {
				top = ms.HeapAlloc
				if f, err := os.Create(p); err == nil {
					_ = pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
				}
			}
		}
	}()
}
