package testutil

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
)

// MappedKB is the resident size of the mapping of path in this process
// (from /proc/self/smaps; the test is skipped where there is none).
func MappedKB(t testing.TB, path string) int {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in, kb := false, 0
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, path) {
			in = true
		} else if in && strings.HasPrefix(line, "Rss:") {
			var n int
			fmt.Sscanf(strings.TrimPrefix(line, "Rss:"), "%d", &n)
			kb += n
			in = false
		}
	}
	return kb
}
