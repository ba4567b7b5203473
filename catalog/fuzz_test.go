package catalog

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecodeRecord feeds the catalog record decoder arbitrary bytes, as a
// damaged page would, in both formats (compressed, and the JSON of
// format 1): it never panics, refuses with ErrDamaged
// what is not a valid record, and what it accepts survives a round trip.
// Seeds: testdata/fuzz/FuzzDecodeRecord.
func FuzzDecodeRecord(f *testing.F) {
	id := "5640a87b612c81a0e0d22380dc5f0cd8101f126e8c19505eb75cd85a5787b9b0"
	rec := &Record{ID: id, Key: "messages/56/" + id + ".eml", Size: 12, Kind: "not-pec", Sources: []string{"a.eml"}, Subject: "Decreto n. 4"}
	good, _ := json.Marshal(rec) // format 1
	f.Add([]byte(id), good)
	packed, _ := encodeRecord(rec) // format 2
	f.Add([]byte(id), packed)
	f.Fuzz(func(t *testing.T, key, data []byte) {
		r, err := decodeRecord(key, data)
		if err != nil {
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("error not reported as damage: %v", err)
			}
			return
		}
		if r.ID != string(key) || r.Key != "messages/"+r.ID[:2]+"/"+r.ID+".eml" {
			t.Fatalf("accepted an inconsistent record %q under %q", r.Key, key)
		}
		again, err := encodeRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := decodeRecord(key, again)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, r, r2)
		}
	})
}
