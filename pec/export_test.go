package pec

import "io"

// ParseReaderAtBuf is ParseReaderAt reading through a buffer of buf bytes,
// so that tests reach the paths where a line is longer than the buffer.
func ParseReaderAtBuf(r io.ReaderAt, size int64, lim Limits, buf int) *Message {
	src := span{src: r, n: size, buf: buf}
	m := ParseReaderAt(r, size, "", lim)
	return parse(src, m.SHA256, lim)
}

// DaticertTime is daticertTime, for the reference reader of the tests.
var DaticertTime = daticertTime
