package archive

import "testing"

// CheckPages is the catalog check's page walk, for tests.
var CheckPages = (*Catalog).checkPages

// TestContainsWriterAcrossWrites: the needle is found wherever the writes
// cut it, and not found when one byte of it differs.
func TestContainsWriterAcrossWrites(t *testing.T) {
	text := []byte("<Name>conserva development TSA (no legal value)</Name>")
	for cut1 := 0; cut1 <= len(text); cut1++ {
		for cut2 := cut1; cut2 <= len(text); cut2++ {
			for _, flip := range []bool{false, true} {
				data := append([]byte(nil), text...)
				if flip {
					data[len(data)-10] ^= 1 // inside "no legal value"
				}
				c := &containsWriter{needle: []byte("no legal value")}
				c.Write(data[:cut1])
				c.Write(data[cut1:cut2])
				for _, b := range data[cut2:] {
					c.Write([]byte{b})
				}
				if c.found == flip {
					t.Fatalf("cuts %d %d, changed %v: found %v", cut1, cut2, flip, c.found)
				}
			}
		}
	}
}
