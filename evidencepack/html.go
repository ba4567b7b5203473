package evidencepack

import (
	"bytes"
	"html/template"
	"time"

	"github.com/conserva/conserva/pec"
)

var kindLabels = map[pec.Kind]string{
	pec.KindPostaCertificata:        "Messaggio PEC (busta di trasporto) / PEC message",
	pec.KindAnomalia:                "Busta di anomalia / anomaly envelope",
	pec.KindAccettazione:            "Ricevuta di accettazione / acceptance receipt",
	pec.KindNonAccettazione:         "Avviso di non accettazione / non-acceptance notice",
	pec.KindPresaInCarico:           "Ricevuta di presa in carico / take-charge receipt",
	pec.KindAvvenutaConsegna:        "Ricevuta di avvenuta consegna / delivery receipt",
	pec.KindErroreConsegna:          "Avviso di mancata consegna / delivery failure notice",
	pec.KindPreavvisoErroreConsegna: "Preavviso di mancata consegna / delivery delay notice",
	pec.KindRilevazioneVirus:        "Rilevazione virus / virus detection",
	pec.KindNotPEC:                  "Messaggio non PEC / not a PEC message",
}

var verdictLabels = map[pec.Verdict]string{
	pec.Valid:     "valida / valid",
	pec.Invalid:   "NON valida / invalid",
	pec.Untrusted: "non attendibile / untrusted",
	pec.Absent:    "assente / absent",
}

// statusLabels name a Recipient's Status.
var statusLabels = map[string]string{
	"delivered": "consegnato / delivered",
	"failed":    "mancata consegna / failed",
	"accepted":  "accettato, in attesa di consegna / accepted",
	"pending":   "in attesa / pending",
}

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"kind":    func(k pec.Kind) string { return kindLabels[k] },
	"verdict": func(v pec.Verdict) string { return verdictLabels[v] },
	"status":  func(s string) string { return statusLabels[s] },
	"when": func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.In(rome()).Format("02/01/2006 15:04:05 MST")
	},
	"at": func(t time.Time) string { return t.In(rome()).Format("02/01/2006 15:04:05 MST") },
}).Parse(`<!DOCTYPE html>
<html lang="it"><head><meta charset="utf-8">
<title>Fascicolo probatorio PEC / PEC evidence report</title>
<style>
body{font-family:serif;max-width:60em;margin:2em auto;color:#111}
h1{font-size:1.5em} h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #999}
table{border-collapse:collapse;width:100%;font-size:.9em} td,th{border:1px solid #bbb;padding:.3em;text-align:left;vertical-align:top}
.mono{font-family:monospace;font-size:.85em;word-break:break-all} .ok{color:#060} .ko{color:#a00;font-weight:bold}
.warn{border:2px solid #a00;padding:.5em;color:#a00}
@media print{body{margin:0}}
</style></head><body>
<h1>Fascicolo probatorio PEC <small>/ PEC evidence report</small></h1>
<p>Messaggio originale / Original Message-ID: <span class="mono">&lt;{{.Dossier.MessageID}}&gt;</span><br>
Generato il / Generated on: {{at .ExportedAt}}</p>
<div id="result">
<p id="integrity" class="{{if .PackIntact}}ok{{else}}ko{{end}}"><b>Integrità del fascicolo / Pack integrity:</b>
{{if .PackIntact}}integro: ogni impronta corrisponde, ogni firma e marca temporale dei pacchetti è verificata rispetto alle radici fissate del conservatore e della TSA / intact: every hash matches, every package signature and timestamp verifies against the pinned roots of the conservator and the TSA{{else}}PROBLEMI RILEVATI / PROBLEMS FOUND (vedi sotto / see below){{end}}</p>
<p id="providers" class="{{if .ProvidersValid}}ok{{else}}ko{{end}}"><b>Firme dei gestori PEC / PEC providers' signatures:</b>
{{range $v, $n := .Verdicts}}{{$n}} {{verdict $v}}; {{end}}
{{if not .ProvidersValid}}NON tutte valide: vedi la cronologia / NOT all valid: see the timeline{{end}}</p>
</div>
{{range .Packages}}{{if .Development}}<p class="warn">Il pacchetto {{.ID}} è firmato e marcato con chiavi di SVILUPPO, senza valore legale / package {{.ID}} was sealed with DEVELOPMENT keys: no legal value.</p>{{end}}{{end}}

<h2>Messaggio / Message</h2>
{{with .Original}}<table>
<tr><th>Mittente / Sender</th><td>{{.From}}</td></tr>
<tr><th>Destinatari / Recipients</th><td>{{range .To}}{{.}}<br>{{end}}</td></tr>
<tr><th>Oggetto / Subject</th><td>{{.Subject}}</td></tr>
<tr><th>Data / Date</th><td>{{when .Date}}</td></tr>
</table>{{end}}
{{range .Messages}}{{if .Attachments}}<h3>Allegati del messaggio originale (postacert.eml) / Attachments of the original message, in {{.File}}</h3>
<table><tr><th>Nome / Name</th><th>Tipo / Type</th><th>Dimensione / Size</th><th>SHA-256</th></tr>
{{range .Attachments}}<tr><td>{{.Name}}</td><td>{{.Type}}</td><td>{{.Size}} byte</td><td class="mono">{{.SHA256}}</td></tr>{{end}}
</table>{{end}}{{end}}

<h2>Destinatari / Recipients</h2>
<table><tr><th>Indirizzo / Address</th><th>Esito / Status</th></tr>
{{range .Dossier.Recipients}}<tr><td>{{.Address}}</td><td>{{status .Status}}</td></tr>{{end}}
</table>
{{range .Dossier.Warnings}}<p class="warn">{{.}}</p>{{end}}

<h2>Cronologia / Timeline</h2>
<table><tr><th>Data / Date</th><th>Tipo / Kind</th><th>Destinatario / Recipient</th><th>Firma del gestore / Provider signature</th><th>Firmatario, ora di firma / Signer, signing time</th><th>SHA-256</th><th>Pacchetto / Package</th><th>Acquisito / Ingested</th></tr>
{{range .Messages}}<tr><td>{{when .Date}}</td><td>{{kind .Kind}}{{if .ReceiptType}} ({{.ReceiptType}}){{end}}</td><td>{{.Recipient}}</td>
<td class="{{if eq .Signature "valid"}}ok{{else}}ko{{end}}">{{verdict .Signature}}<br><small>{{.Reason}}</small></td>
<td>{{.Signer}}<br>{{when .SignedAt}}</td><td class="mono">{{.ID}}{{if not .HashOK}} <span class="ko">IMPRONTA ERRATA / HASH MISMATCH</span>{{end}}</td>
<td class="mono">{{if .Package}}{{.Package}}{{if not .InIndex}} <span class="ko">NON nell'indice firmato / NOT in the signed index</span>{{end}}{{else}}non ancora sigillato / not sealed yet{{end}}</td>
<td>{{at .IngestedAt}}<br><small>{{range .Sources}}{{.}} {{end}}</small></td></tr>{{end}}
</table>

<h2>Pacchetti di archiviazione / Archival packages</h2>
<table><tr><th>Pacchetto / Package</th><th>Firma dell'indice / Index signature</th><th>Marca temporale / Timestamp</th><th>Firmatario / Signer</th><th>TSA</th></tr>
{{range .Packages}}<tr><td class="mono">{{.ID}}</td><td class="{{if .SignatureOK}}ok{{else}}ko{{end}}">{{if .SignatureOK}}valida / valid{{else}}NON valida / invalid{{end}}</td>
<td class="{{if .TimestampOK}}ok{{else}}ko{{end}}">{{at .Timestamp}}</td><td>{{.Signer}}</td><td>{{.TSA}}</td></tr>
{{range .Problems}}<tr><td colspan="5" class="ko">{{.}}</td></tr>{{end}}{{end}}
</table>

<h2>Conservatore, TSA e radici / Conservator, TSA and roots</h2>
<p>Questo fascicolo (pacchetto di distribuzione) è firmato da / This pack (distribution package) is signed by: <b>{{.Conservator}}</b>; marca temporale / timestamped by: <b>{{.TSA}}</b>.
Le firme e le marche sono verificate rispetto a queste radici, da confrontare con quelle pubblicate dal titolare dell'archivio / Signatures and timestamps are checked against these roots; compare them with those the archive's owner publishes:</p>
<table><tr><th>Ruolo / Role</th><th>File</th><th>Soggetto / Subject</th><th>SHA-256</th></tr>
{{range .Roots}}<tr><td>{{.Role}}</td><td class="mono">{{.File}}</td><td>{{.Subject}}</td><td class="mono">{{.SHA256}}</td></tr>{{end}}
</table>
{{if .Providers}}<p>Ancore di fiducia dei gestori (providers/anchors.pem) / Providers' trust anchors: {{range .Providers}}{{.Name}} ({{.Anchors}}, SHA-256 <span class="mono">{{.SHA256}}</span>) {{end}}</p>{{end}}
{{range .Notes}}<p>{{.}}</p>{{end}}

<h2>Come verificare / How to verify</h2>
<p>Il file VERIFY.txt contiene i comandi (sha256sum, openssl) che verificano ogni file di questo fascicolo senza conserva.
/ VERIFY.txt holds the commands (sh, sha256sum, openssl, grep) that check every file of this pack without conserva:
<code>SIGNER_ROOT_SHA256=&lt;hex&gt; TSA_ROOT_SHA256=&lt;hex&gt; sh VERIFY.txt</code>. Questo rapporto è elencato in SHA256SUMS, firmato dal conservatore: non può essere modificato senza che la verifica fallisca / This report is listed in SHA256SUMS, signed by the conservator: it cannot be edited without the check failing.</p>
</body></html>
`))

// renderReport is report.html: the report, readable and printable.
func renderReport(rep *Report) ([]byte, error) {
	var b bytes.Buffer
	err := reportTmpl.Execute(&b, rep)
	return b.Bytes(), err
}

// rome is the time zone of the report (Italian law dates by local time);
// UTC when the zone database is missing.
func rome() *time.Location {
	if loc, err := time.LoadLocation("Europe/Rome"); err == nil {
		return loc
	}
	return time.UTC
}
