package bytesize_test

import (
	"testing"

	"github.com/conserva/conserva/internal/bytesize"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]int64{
		"200MB": 200_000_000, " 1gb ": 1_000_000_000, "512KiB": 512 << 10, "16 MiB": 16 << 20, "2G": 2 << 30,
		"3k": 3 << 10, "10B": 10, "12345": 12345, "9223372036854775807": 9223372036854775807, "8589934591G": 8589934591 << 30,
	} {
		if got, err := bytesize.Parse(in); err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "0", "-5MB", "1.5GB", "10 TB", "ten", "10000000000GB", "9223372036854775807K"} {
		if got, err := bytesize.Parse(in); err == nil {
			t.Errorf("%q accepted as %d", in, got)
		}
	}
}
