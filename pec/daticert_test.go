package pec_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/conserva/conserva/pec"
)

func TestDaticertTolerance(t *testing.T) {
	var fetched atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		w.Write([]byte("<!ENTITY x 'pwned'>"))
	}))
	defer srv.Close()
	cases := map[string]string{
		"doctype and external entity": `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE postacert SYSTEM "` + srv.URL + `/daticert.dtd" [<!ENTITY ext SYSTEM "` + srv.URL + `/secret">]>
<postacert tipo="accettazione" errore="nessuno"><intestazione><mittente>a@b.it</mittente>
<destinatari tipo="esterno">c@d.it</destinatari><risposte>a@b.it</risposte><oggetto>x</oggetto></intestazione>
<dati><gestore-emittente>G</gestore-emittente><data zona="+0200"><giorno>01/07/2024</giorno><ora>09:05:00</ora></data>
<identificativo>id1@g.it</identificativo><msgid>&lt;m1@b.it&gt;</msgid></dati></postacert>`,
		"iso-8859-1 and stray text": "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<postacert tipo=\"accettazione\" errore=\"nessuno\">\n  <intestazione><mittente> a@b.it </mittente><destinatari tipo=\"certificato\">c@d.it</destinatari><risposte>a@b.it</risposte>a<oggetto>caf\xe8</oggetto></intestazione>\n  <dati><gestore-emittente>G</gestore-emittente><data zona=\"+0200\"><giorno>01/07/2024</giorno><ora>09:05:00</ora></data><identificativo>id1@g.it</identificativo><msgid>&lt;m1@b.it&gt;</msgid></dati></postacert>\n",
	}
	for name, xml := range cases {
		t.Run(name, func(t *testing.T) {
			d, err := pec.ParseDaticert([]byte(xml))
			if err != nil {
				t.Fatal(err)
			}
			if d.Tipo != "accettazione" || d.Mittente != "a@b.it" || d.Msgid != "<m1@b.it>" || d.Data.IsZero() {
				t.Fatalf("%+v", d)
			}
			if d.Data.UTC().Hour() != 7 {
				t.Fatalf("time %v: zona +0200 not applied", d.Data)
			}
			if strings.Contains(name, "iso") && d.Oggetto != "cafè" {
				t.Fatalf("oggetto %q: charset not decoded", d.Oggetto)
			}
		})
	}
	if fetched.Load() != 0 {
		t.Fatal("an external entity or DTD was fetched")
	}
}

func TestDaticertErroreEsteso(t *testing.T) {
	d, err := pec.ParseDaticert([]byte(`<postacert tipo="errore-consegna" errore="altro"><intestazione><mittente>a@b.it</mittente></intestazione>
<dati><errore-esteso>5.1.1 - ARUBA PEC S.p.A. - indirizzo non valido</errore-esteso></dati></postacert>`))
	if err != nil {
		t.Fatal(err)
	}
	if d.ErroreCodice != "5.1.1" || d.Errore != "altro" {
		t.Fatalf("%+v", d)
	}
}

func TestDaticertRejectsOtherXML(t *testing.T) {
	if _, err := pec.ParseDaticert([]byte(`<fattura/>`)); err == nil {
		t.Fatal("a non-postacert document was accepted")
	}
	if _, err := pec.ParseDaticert([]byte("\x00\x01garbage")); err == nil {
		t.Fatal("garbage was accepted")
	}
}
