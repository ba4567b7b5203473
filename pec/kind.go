package pec

import "strings"

// Kind is what a PEC object is. The strings are part of the JSON contract.
type Kind string

const (
	KindPostaCertificata        Kind = "posta-certificata" // busta di trasporto
	KindAnomalia                Kind = "anomalia"          // busta di anomalia (X-Trasporto: errore)
	KindAccettazione            Kind = "accettazione"
	KindNonAccettazione         Kind = "non-accettazione"
	KindPresaInCarico           Kind = "presa-in-carico"
	KindAvvenutaConsegna        Kind = "avvenuta-consegna"
	KindErroreConsegna          Kind = "errore-consegna"
	KindPreavvisoErroreConsegna Kind = "preavviso-errore-consegna"
	KindRilevazioneVirus        Kind = "rilevazione-virus"
	KindNotPEC                  Kind = "not-pec"
)

// Kinds lists every kind, in the order of the PEC flow.
var Kinds = []Kind{
	KindPostaCertificata, KindAnomalia, KindAccettazione, KindNonAccettazione,
	KindPresaInCarico, KindAvvenutaConsegna, KindErroreConsegna,
	KindPreavvisoErroreConsegna, KindRilevazioneVirus, KindNotPEC,
}

// receiptKinds maps X-Ricevuta values to kinds.
var receiptKinds = map[string]Kind{
	"accettazione":              KindAccettazione,
	"non-accettazione":          KindNonAccettazione,
	"presa-in-carico":           KindPresaInCarico,
	"avvenuta-consegna":         KindAvvenutaConsegna,
	"errore-consegna":           KindErroreConsegna,
	"preavviso-errore-consegna": KindPreavvisoErroreConsegna,
	"rilevazione-virus":         KindRilevazioneVirus,
}

// IsReceipt says whether the kind is a receipt or notice (ricevuta/avviso)
// rather than an envelope.
func (k Kind) IsReceipt() bool {
	_, ok := receiptKinds[string(k)]
	return ok
}

// ParseKind accepts a kind string as written in JSON or on a command line.
func ParseKind(s string) (Kind, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, k := range Kinds {
		if string(k) == s {
			return k, true
		}
	}
	return "", false
}

// classify reads the kind from the top-level headers, which are the first
// source of truth (the daticert is cross-checked afterwards). It returns a
// warning for values it does not know; those are kept, never guessed.
func classify(xRicevuta, xTrasporto string) (Kind, string) {
	xr := strings.ToLower(strings.TrimSpace(xRicevuta))
	xt := strings.ToLower(strings.TrimSpace(xTrasporto))
	if xr != "" {
		if k, ok := receiptKinds[xr]; ok {
			return k, ""
		}
		return KindNotPEC, "unknown X-Ricevuta value " + quote(xRicevuta)
	}
	switch xt {
	case "":
		return KindNotPEC, ""
	case "posta-certificata":
		return KindPostaCertificata, ""
	case "errore":
		return KindAnomalia, ""
	}
	return KindNotPEC, "unknown X-Trasporto value " + quote(xTrasporto)
}

// daticertTipoFor is the postacert@tipo a kind's daticert should carry; ""
// when any (or none) is acceptable.
func daticertTipoFor(k Kind) string {
	switch k {
	case KindAnomalia, KindNotPEC:
		return ""
	}
	return string(k)
}

func quote(s string) string { return "\"" + strings.TrimSpace(s) + "\"" }
