// Command conserva keeps Italian certified e-mail (PEC) as legal evidence.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
)

func main() {
	heapProfile()
	// CONSERVA_CPUPROFILE=FILE writes a CPU profile of the command, for
	// go tool pprof: where a long seal, ingest or audit spends its time.
	if p := os.Getenv("CONSERVA_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "conserva: CONSERVA_CPUPROFILE: %v\n", err)
			os.Exit(2)
		}
		code := run(context.Background(), os.Args, os.Stdout, os.Stderr)
		pprof.StopCPUProfile()
		f.Close()
		os.Exit(code)
	}
	os.Exit(run(context.Background(), os.Args, os.Stdout, os.Stderr))
}
