// Command conserva keeps Italian certified e-mail (PEC) as legal evidence.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args, os.Stdout, os.Stderr))
}
