package pecgen

import (
	"bytes"
	"math/rand/v2"
)

// Tamper returns a copy of a signed message with one byte of the certified
// text changed: what a careless edit, a client or a hook does.
func Tamper(raw []byte) []byte {
	out := append([]byte(nil), raw...)
	i := bytes.Index(out, []byte("Messaggio di posta certificata"))
	if i < 0 {
		panic("pecgen: nothing to tamper with")
	}
	out[i] = 'N'
	return out
}

// Garbage returns n bytes of deterministic noise.
func Garbage(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}
