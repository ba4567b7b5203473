package countio_test

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/conserva/conserva/internal/countio"
)

// TestReaderCounts: N is the number of bytes read, whatever the reads'
// sizes, and the bytes pass unchanged.
func TestReaderCounts(t *testing.T) {
	src := strings.Repeat("0123456789", 1000)
	c := &countio.Reader{R: iotest.OneByteReader(strings.NewReader(src))}
	got, err := io.ReadAll(io.LimitReader(c, 4321))
	if err != nil || string(got) != src[:4321] || c.N != 4321 {
		t.Fatalf("read %d bytes (err %v), counted %d", len(got), err, c.N)
	}
	if _, err := io.Copy(io.Discard, c); err != nil || c.N != int64(len(src)) {
		t.Fatalf("counted %d of %d (err %v)", c.N, len(src), err)
	}
}
