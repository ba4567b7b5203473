// Package bytesize reads the sizes conserva.toml and the command line give
// (max_message_size, max_package_bytes, s3_part_size, --max-size): 200MB,
// 1GB, 512KiB or a plain byte count.
package bytesize

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Parse reads sizes such as 200MB, 1GB, 512KiB or a plain byte count:
// KB, MB, GB are powers of 1000; KiB, MiB, GiB and K, M, G powers of
// 1024; case and spaces do not matter. Zero and negative sizes are refused.
func Parse(s string) (int64, error) {
	orig := s
	s = strings.TrimSpace(strings.ToUpper(s))
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30},
		{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is too large a size", orig)
	}
	return n * mult, nil
}
