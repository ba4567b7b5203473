package sip_test

import (
	"testing"

	"github.com/conserva/conserva/sip"
)

func TestRetentionYears(t *testing.T) {
	for in, want := range map[string]int{"10y": 10, "3650d": 10, "3651d": 11, "1d": 1, "10y30d": 11, "": 0, "x": 0} {
		if got := sip.RetentionYears(in); got != want {
			t.Errorf("%q: %d, want %d", in, got, want)
		}
	}
}

func TestDocumentTypeNamesEveryKind(t *testing.T) {
	seen := map[string]string{}
	for _, k := range []string{"posta-certificata", "anomalia", "accettazione", "non-accettazione", "presa-in-carico",
		"avvenuta-consegna", "errore-consegna", "preavviso-errore-consegna", "rilevazione-virus", "not-pec"} {
		name := sip.DocumentType(k)
		if prev, dup := seen[name]; dup {
			t.Errorf("%s and %s are both %q", prev, k, name)
		}
		seen[name] = k
	}
}
