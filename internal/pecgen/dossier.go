package pecgen

import (
	"time"

	"github.com/conserva/conserva/pec"
)

// Dossier builds what a sender's mailbox holds for one sent message: the
// accettazione, one avvenuta-consegna per delivered recipient and one
// errore-consegna per failed one, plus the envelope each recipient got.
// Names are suggestions for file names.
func (p *Provider) Dossier(subject string, delivered, failed []string, attachment []byte, at time.Time) (map[string][]byte, error) {
	base := Spec{
		Sender:     "ufficio.protocollo@" + p.Domain,
		Recipients: append(append([]string(nil), delivered...), failed...),
		Subject:    subject,
		OriginalID: "<" + randHex(10) + "@client." + p.Domain + ">",
		Date:       at.Truncate(time.Second),
		Attachment: attachment,
	}
	base.Identificativo = "opec21." + base.Date.UTC().Format("20060102150405") + "." + randHex(4) + "@" + p.Domain
	out := map[string][]byte{}
	build := func(name string, s Spec) error {
		raw, err := p.Build(s)
		if err == nil {
			out[name] = raw
		}
		return err
	}
	env := base
	env.Kind = pec.KindPostaCertificata
	if err := build("01-posta-certificata.eml", env); err != nil {
		return nil, err
	}
	acc := base
	acc.Kind, acc.Date = pec.KindAccettazione, base.Date.Add(time.Second)
	if err := build("02-accettazione.eml", acc); err != nil {
		return nil, err
	}
	for i, r := range delivered {
		c := base
		c.Kind, c.Consegna, c.Date = pec.KindAvvenutaConsegna, r, base.Date.Add(time.Duration(2+i)*time.Second)
		if err := build("03-avvenuta-consegna-"+r+".eml", c); err != nil {
			return nil, err
		}
	}
	for i, r := range failed {
		e := base
		e.Kind, e.Consegna, e.Date = pec.KindErroreConsegna, r, base.Date.Add(time.Duration(10+i)*time.Second)
		e.Errore, e.ErroreEsteso = "no-dest", "5.1.1 - "+p.Name+" - indirizzo non valido"
		if err := build("04-errore-consegna-"+r+".eml", e); err != nil {
			return nil, err
		}
	}
	return out, nil
}
