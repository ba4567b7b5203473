package pecgen

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html"
	"mime"
	"strings"
	"time"

	"github.com/conserva/conserva/pec"
	"github.com/smallstep/pkcs7"
)

// Spec describes one PEC object to build. Zero values give a plausible
// busta di trasporto from mittente@pec.test.example to one recipient.
type Spec struct {
	Kind        pec.Kind
	ReceiptType string // ricevuta@tipo; on envelopes also X-TipoRicevuta when HeaderTipo
	HeaderTipo  string // X-TipoRicevuta header value on the envelope, as written ("" for none)

	Sender     string
	Recipients []string
	Subject    string // original subject, UTF-8
	Charset    string // charset of the encoded subject: "" (UTF-8) or "iso-8859-1"
	// OriginalID is the sender client's Message-ID (with brackets); the
	// provider's identificativo is derived when Identificativo is empty.
	OriginalID     string
	Identificativo string
	Date           time.Time
	Errore         string // postacert@errore
	ErroreEsteso   string
	Consegna       string // recipient a delivery receipt or failure is about

	Attachment    []byte // attached to the original message (nil: none)
	OmitDaticert  bool
	DaticertTipo  string // overrides postacert@tipo (to test disagreement)
	Inner         []byte // for anomalia: the message carried as postacert.eml
	Digest        string // "sha1" (real providers, the default) or "sha256"
	NoSigningTime bool   // sign without signed attributes: the daticert time is the reference
	Opaque        bool   // application/pkcs7-mime instead of multipart/signed
	Unsigned      bool   // no signature at all
	BareLF        bool   // saved with LF line endings, as many clients export
	OmitSignature bool   // multipart/signed with the smime.p7s part removed
}

// Build makes the raw message described by s, signed by p.
func (p *Provider) Build(s Spec) ([]byte, error) {
	s.defaults(p)
	if s.Kind == pec.KindNotPEC {
		return toLF(ordinaryMail(s), s.BareLF), nil
	}
	signed := p.signedEntity(s)
	var out bytes.Buffer
	writeHeaders(&out, p.topHeaders(s))
	switch {
	case s.Unsigned:
		// An unsigned PEC object: the certified entity's own header lines
		// continue the provider's header block.
		out.Write(signed)
		return toLF(out.Bytes(), s.BareLF), nil
	case s.Opaque:
		der, err := p.sign(signed, s, false)
		if err != nil {
			return nil, err
		}
		out.WriteString("Content-Type: application/pkcs7-mime; smime-type=signed-data; name=\"smime.p7m\"\r\n")
		out.WriteString("Content-Transfer-Encoding: base64\r\n")
		out.WriteString("Content-Disposition: attachment; filename=\"smime.p7m\"\r\n\r\n")
		out.WriteString(wrap76(base64.StdEncoding.EncodeToString(der)))
		return toLF(out.Bytes(), s.BareLF), nil
	}
	der, err := p.sign(signed, s, true)
	if err != nil {
		return nil, err
	}
	outer := "----" + randHex(16)
	micalg := "sha1"
	if s.Digest == "sha256" {
		micalg = "sha-256"
	}
	fmt.Fprintf(&out, "Content-Type: multipart/signed; protocol=\"application/x-pkcs7-signature\"; micalg=\"%s\"; boundary=\"%s\"\r\n\r\n", micalg, outer)
	out.WriteString("This is an S/MIME signed message\r\n\r\n")
	out.WriteString("--" + outer + "\r\n")
	out.Write(signed)
	out.WriteString("\r\n--" + outer + "\r\n")
	if !s.OmitSignature {
		out.WriteString("Content-Type: application/x-pkcs7-signature; name=\"smime.p7s\"\r\n")
		out.WriteString("Content-Transfer-Encoding: base64\r\n")
		out.WriteString("Content-Disposition: attachment; filename=\"smime.p7s\"\r\n\r\n")
		out.WriteString(wrap76(base64.StdEncoding.EncodeToString(der)))
		out.WriteString("\r\n--" + outer + "--\r\n")
	} else {
		out.WriteString("\r\n--" + outer + "--\r\n")
	}
	return toLF(out.Bytes(), s.BareLF), nil
}

func (s *Spec) defaults(p *Provider) {
	if s.Kind == "" {
		s.Kind = pec.KindPostaCertificata
	}
	if s.Sender == "" {
		s.Sender = "mittente@" + p.Domain
	}
	if len(s.Recipients) == 0 {
		s.Recipients = []string{"destinatario@pec.altro.example"}
	}
	if s.Subject == "" {
		s.Subject = "Fattura 2026/001"
	}
	if s.OriginalID == "" {
		s.OriginalID = "<" + randHex(8) + "@client.example>"
	}
	if s.Date.IsZero() {
		s.Date = time.Now().Truncate(time.Second)
	}
	if s.Identificativo == "" {
		s.Identificativo = fmt.Sprintf("opec%s.%s.%s@%s", "21", s.Date.UTC().Format("20060102150405"), randHex(4), p.Domain)
	}
	if s.Errore == "" {
		s.Errore = "nessuno"
	}
	if s.ReceiptType == "" && (s.Kind == pec.KindPostaCertificata || s.Kind == pec.KindAvvenutaConsegna) {
		s.ReceiptType = "completa"
	}
	if s.Consegna == "" && (s.Kind == pec.KindAvvenutaConsegna || s.Kind == pec.KindErroreConsegna || s.Kind == pec.KindPreavvisoErroreConsegna) {
		s.Consegna = s.Recipients[0]
	}
}

var subjectPrefix = map[pec.Kind]string{
	pec.KindPostaCertificata:        "POSTA CERTIFICATA: ",
	pec.KindAnomalia:                "ANOMALIA MESSAGGIO: ",
	pec.KindAccettazione:            "ACCETTAZIONE: ",
	pec.KindNonAccettazione:         "AVVISO DI NON ACCETTAZIONE: ",
	pec.KindPresaInCarico:           "PRESA IN CARICO: ",
	pec.KindAvvenutaConsegna:        "CONSEGNA: ",
	pec.KindErroreConsegna:          "AVVISO DI MANCATA CONSEGNA: ",
	pec.KindPreavvisoErroreConsegna: "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: ",
	pec.KindRilevazioneVirus:        "PROBLEMA DI SICUREZZA: ",
}

// topHeaders are the provider's headers, outside the signature.
func (p *Provider) topHeaders(s Spec) []string {
	h := []string{
		"Return-Path: <posta-certificata@" + p.Domain + ">",
		"Received: from smtp." + p.Domain + " (localhost [127.0.0.1]) by mx." + p.Domain + " with LMTP; " + s.Date.Format(time.RFC1123Z),
		"Subject: " + encodeSubject(subjectPrefix[s.Kind]+s.Subject, s.Charset),
		"X-Riferimento-Message-ID: " + s.OriginalID,
		"Date: " + s.Date.Format(time.RFC1123Z),
	}
	provider := "posta-certificata@" + p.Domain
	switch s.Kind {
	case pec.KindPostaCertificata, pec.KindAnomalia:
		tr := "posta-certificata"
		if s.Kind == pec.KindAnomalia {
			tr = "errore"
		}
		h = append(h,
			"Reply-To: "+s.Sender,
			"To: "+strings.Join(s.Recipients, ", "),
			"X-Trasporto: "+tr,
			"From: \"Per conto di: "+s.Sender+"\" <"+provider+">",
			"Message-ID: <"+s.Identificativo+">",
		)
		if s.HeaderTipo != "" {
			h = append(h, "X-Tiporicevuta: "+s.HeaderTipo)
		}
	default:
		h = append(h,
			"To: "+s.Sender,
			"X-Ricevuta: "+string(s.Kind),
			"From: "+provider,
			"Message-ID: <"+s.Identificativo+"."+randHex(3)+"@"+p.Domain+">",
		)
	}
	return append(h, "MIME-Version: 1.0")
}

// signedEntity is the multipart/mixed the provider signs: text, daticert.xml
// and, where the kind carries it, postacert.eml.
func (p *Provider) signedEntity(s Spec) []byte {
	b := "----------=_" + fmt.Sprint(s.Date.Unix()) + "-" + randHex(4)
	var e bytes.Buffer
	e.WriteString("Content-Type: multipart/mixed; boundary=\"" + b + "\"\r\n")
	e.WriteString("Content-Transfer-Encoding: binary\r\nMIME-Version: 1.0\r\n\r\n")
	e.WriteString("This is a multi-part message in MIME format...\r\n\r\n")
	e.WriteString("--" + b + "\r\n")
	e.WriteString("Content-Type: text/plain; charset=\"iso-8859-1\"\r\nContent-Disposition: inline\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	fmt.Fprintf(&e, "Messaggio di posta certificata (%s) del %s\r\n", s.Kind, s.Date.Format("02/01/2006 15:04:05"))
	if !s.OmitDaticert {
		e.WriteString("\r\n--" + b + "\r\n")
		e.WriteString("Content-Type: application/xml; name=\"daticert.xml\"\r\nContent-Disposition: inline; filename=\"daticert.xml\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		e.WriteString(wrap76(base64.StdEncoding.EncodeToString(p.daticert(s))))
	}
	if carriesOriginal(s) {
		orig := s.Inner
		if orig == nil {
			orig = original(s)
		}
		e.WriteString("\r\n--" + b + "\r\n")
		e.WriteString("Content-Type: message/rfc822; name=\"postacert.eml\"\r\nContent-Disposition: inline; filename=\"postacert.eml\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
		e.Write(orig)
	}
	e.WriteString("\r\n--" + b + "--\r\n")
	return e.Bytes()
}

func carriesOriginal(s Spec) bool {
	switch s.Kind {
	case pec.KindPostaCertificata, pec.KindAnomalia:
		return true
	case pec.KindAvvenutaConsegna:
		return s.ReceiptType != "sintetica"
	}
	return false
}

// original is the sender's message as the provider embeds it: Message-ID
// rewritten to the identificativo, the client's one moved to
// X-Riferimento-Message-ID. A breve receipt replaces the attachment with
// its hash.
func original(s Spec) []byte {
	var o bytes.Buffer
	o.WriteString("From: " + s.Sender + "\r\nTo: " + strings.Join(s.Recipients, ", ") + "\r\n")
	o.WriteString("Subject: " + encodeSubject(s.Subject, s.Charset) + "\r\n")
	o.WriteString("Date: " + s.Date.Format(time.RFC1123Z) + "\r\n")
	o.WriteString("Message-ID: <" + s.Identificativo + ">\r\nX-Riferimento-Message-ID: " + s.OriginalID + "\r\n")
	o.WriteString("MIME-Version: 1.0\r\n")
	if s.Attachment == nil {
		o.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\nTesto del messaggio.\r\n")
		return o.Bytes()
	}
	b := "=_att_" + randHex(6)
	o.WriteString("Content-Type: multipart/mixed; boundary=\"" + b + "\"\r\n\r\n")
	o.WriteString("--" + b + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nIn allegato il documento.\r\n")
	o.WriteString("--" + b + "\r\n")
	if s.Kind == pec.KindAvvenutaConsegna && s.ReceiptType == "breve" {
		o.WriteString("Content-Type: text/plain; name=\"documento.pdf.hash\"\r\nContent-Disposition: attachment; filename=\"documento.pdf.hash\"\r\n\r\n")
		o.WriteString(fmt.Sprintf("SHA1 %x\r\n", sha1Sum(s.Attachment)))
	} else {
		o.WriteString("Content-Type: application/pdf; name=\"documento.pdf\"\r\nContent-Disposition: attachment; filename=\"documento.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		o.WriteString(wrap76(base64.StdEncoding.EncodeToString(s.Attachment)))
	}
	o.WriteString("\r\n--" + b + "--\r\n")
	return o.Bytes()
}

func (p *Provider) daticert(s Spec) []byte {
	tipo := string(s.Kind)
	if s.DaticertTipo != "" {
		tipo = s.DaticertTipo
	}
	var d bytes.Buffer
	d.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
	fmt.Fprintf(&d, "<postacert tipo=%q errore=%q>\n    <intestazione>\n", tipo, s.Errore)
	fmt.Fprintf(&d, "        <mittente>%s</mittente>\n", html.EscapeString(s.Sender))
	for _, r := range s.Recipients {
		fmt.Fprintf(&d, "        <destinatari tipo=\"certificato\">%s</destinatari>\n", html.EscapeString(r))
	}
	fmt.Fprintf(&d, "        <risposte>%s</risposte>\n", html.EscapeString(s.Sender))
	fmt.Fprintf(&d, "        <oggetto>%s</oggetto>\n    </intestazione>\n    <dati>\n", html.EscapeString(s.Subject))
	fmt.Fprintf(&d, "        <gestore-emittente>%s S.p.A.</gestore-emittente>\n", html.EscapeString(p.Name))
	fmt.Fprintf(&d, "        <data zona=%q>\n            <giorno>%s</giorno>\n            <ora>%s</ora>\n        </data>\n",
		s.Date.Format("-0700"), s.Date.Format("02/01/2006"), s.Date.Format("15:04:05"))
	fmt.Fprintf(&d, "        <identificativo>%s</identificativo>\n", html.EscapeString(s.Identificativo))
	fmt.Fprintf(&d, "        <msgid>%s</msgid>\n", html.EscapeString(s.OriginalID))
	if s.ReceiptType != "" && (s.Kind == pec.KindPostaCertificata || s.Kind == pec.KindAvvenutaConsegna) {
		fmt.Fprintf(&d, "        <ricevuta tipo=%q />\n", s.ReceiptType)
	}
	if s.Consegna != "" {
		fmt.Fprintf(&d, "        <consegna>%s</consegna>\n", html.EscapeString(s.Consegna))
	}
	if s.Kind == pec.KindPresaInCarico || s.Kind == pec.KindRilevazioneVirus {
		for _, r := range s.Recipients {
			fmt.Fprintf(&d, "        <ricezione>%s</ricezione>\n", html.EscapeString(r))
		}
	}
	if s.ErroreEsteso != "" {
		fmt.Fprintf(&d, "        <errore-esteso>%s</errore-esteso>\n", html.EscapeString(s.ErroreEsteso))
	}
	d.WriteString("    </dati>\n</postacert>\n")
	return d.Bytes()
}

func (p *Provider) sign(content []byte, s Spec, detached bool) ([]byte, error) {
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		return nil, err
	}
	if s.Digest == "sha256" {
		sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	} else {
		sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA1)
	}
	if s.NoSigningTime {
		err = sd.SignWithoutAttr(p.Cert, p.Key, pkcs7.SignerInfoConfig{})
		if err == nil {
			sd.AddCertificate(p.CA.Cert)
		}
	} else {
		err = sd.AddSignerChain(p.Cert, p.Key, []*x509.Certificate{p.CA.Cert}, pkcs7.SignerInfoConfig{})
	}
	if err != nil {
		return nil, err
	}
	for _, c := range p.Extra {
		sd.AddCertificate(c)
	}
	if detached {
		sd.Detach()
	}
	return sd.Finish()
}

// ordinaryMail is a plain message, as a PEC mailbox also receives.
func ordinaryMail(s Spec) []byte {
	var o bytes.Buffer
	o.WriteString("From: " + s.Sender + "\r\nTo: " + strings.Join(s.Recipients, ", ") + "\r\n")
	o.WriteString("Subject: " + encodeSubject(s.Subject, s.Charset) + "\r\n")
	o.WriteString("Date: " + s.Date.Format(time.RFC1123Z) + "\r\nMessage-ID: " + s.OriginalID + "\r\n")
	o.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nUn messaggio ordinario.\r\n")
	return o.Bytes()
}

func encodeSubject(subject, charset string) string {
	if strings.EqualFold(charset, "iso-8859-1") {
		latin := make([]byte, 0, len(subject))
		for _, r := range subject {
			latin = append(latin, byte(r)) // test subjects stay within Latin-1
		}
		return mime.QEncoding.Encode("iso-8859-1", string(latin))
	}
	return mime.QEncoding.Encode("utf-8", subject)
}

func writeHeaders(b *bytes.Buffer, lines []string) {
	for _, l := range lines {
		b.WriteString(l + "\r\n")
	}
}

func toLF(b []byte, lf bool) []byte {
	if !lf {
		return b
	}
	return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
}

func wrap76(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	b.WriteString(s)
	return b.String()
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func sha1Sum(b []byte) []byte {
	h := sha1.Sum(b)
	return h[:]
}
