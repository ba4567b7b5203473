package web

import (
	"net/http"
	"strings"
)

// Languages: English and Italian. Every text of the pages is here; the
// templates print .T.key.
var texts = map[string]map[string]string{
	"en": {
		"title": "conserva", "login": "Sign in", "username": "User name", "password": "Password", "logout": "Sign out",
		"bad_login": "Wrong user name or password.", "throttled": "Too many failed attempts: wait a little and try again.",
		"search": "Search", "search_hint": "Message-ID, address, subject words or id", "kind": "Kind", "any": "any",
		"flagged": "Flagged", "since": "From", "until": "To", "results": "results", "no_results": "Nothing found.", "capped": "Only the first results are shown: narrow the search (dates, kind) to see the rest. Shown at most:", "incomplete": "The catalog is damaged: the search stepped over index entries it could not read, so results may be missing. Run conserva catalog check, then conserva catalog rebuild. Entries stepped over:",
		"date": "Date", "from": "From", "to": "To", "subject": "Subject", "verdict": "Signature", "id": "Id",
		"dossier": "Dossier", "recipients": "Recipients", "status": "Status", "evidence": "Evidence", "timeline": "Timeline",
		"messages": "Messages", "receipts": "Receipts", "hold": "Legal hold", "hold_on": "under legal hold", "hold_off": "no legal hold",
		"set_hold": "Put a legal hold", "lift_hold": "Lift the legal hold", "export": "Download the evidence pack (zip)",
		"package": "Package", "packages": "Packages", "sources": "Sources", "reason": "Reason", "warnings": "Warnings",
		"message": "Message", "headers": "Headers", "body": "Text", "html_as_text": "HTML part, shown as text (never run)",
		"attachments": "Attachments", "size": "Size", "type": "Type", "name": "Name",
		"audit": "Audit", "audits": "Audit runs", "problems": "Problems", "unsealed": "Unsealed", "objects": "Objects",
		"started": "Started", "scope": "Scope", "no_audit": "No audit has been run yet.",
		"stats": "Statistics", "mailbox": "Mailbox", "month": "Month", "sent": "Sent", "received": "Received",
		"receipts_n": "Receipts", "failures": "Delivery failures", "total": "Total",
		"accesslog": "Access log", "chain_ok": "Hash chain whole", "chain_broken": "Hash chain BROKEN", "who": "Who",
		"role": "Role", "when": "When", "what": "What", "target": "Target", "addr": "Address", "result": "Result",
		"users": "Users", "disabled": "disabled", "enabled": "enabled",
		"not_found": "Not found", "not_found_text": "Nothing in the archive has that id or Message-ID.",
		"forbidden": "Forbidden", "forbidden_text": "Your role does not allow this.", "busy": "The archive is busy",
		"busy_text": "Another conserva process (the nightly job?) is writing the archive. Try again in a moment.",
		"error":     "Error", "ambiguous": "More than one dossier begins with that id; give more digits:",
		"signed": "Signed", "timestamp": "Timestamp", "signer": "Signer", "tsa": "TSA", "development": "development (no legal value)",
		"created": "Created", "prev": "Previous", "next": "Next", "page": "Page", "lang": "Italiano", "lang_code": "it",
		"printed": "Printed", "not_audited": "not audited yet", "audit_ok": "signature, timestamp and contents verified",
		"runs": "Runs", "no_runs": "No run recorded yet.", "command": "Command", "outcome": "Outcome", "duration": "Duration",
		"counts": "Counts", "errors": "Errors", "next_seal": "Next seal", "unsealed_messages": "messages not sealed yet",
		"unsealed_log": "access log records not sealed yet", "expected": "expected at", "overdue": "overdue: check the nightly job",
		"not_scheduled": "not scheduled: run `conserva run` nightly", "run_ok": "ok", "run_findings": "findings", "run_failed": "failed",
		"sealed_through": "Sealed in packages up to record", "sealed_none": "No record sealed in a package yet",
		"sealed_verify": "compares the sealed records with this log",
	},
	"it": {
		"title": "conserva", "login": "Accedi", "username": "Nome utente", "password": "Password", "logout": "Esci",
		"bad_login": "Nome utente o password errati.", "throttled": "Troppi tentativi falliti: attendere e riprovare.",
		"search": "Cerca", "search_hint": "Message-ID, indirizzo, parole dell'oggetto o id", "kind": "Tipo", "any": "tutti",
		"flagged": "Segnalati", "since": "Dal", "until": "Al", "results": "risultati", "no_results": "Nessun risultato.", "capped": "Sono mostrati solo i primi risultati: restringi la ricerca (date, tipo) per vedere gli altri. Mostrati al massimo:", "incomplete": "Il catalogo è danneggiato: la ricerca ha saltato voci dell'indice illeggibili, quindi possono mancare risultati. Eseguire conserva catalog check, poi conserva catalog rebuild. Voci saltate:",
		"date": "Data", "from": "Mittente", "to": "Destinatari", "subject": "Oggetto", "verdict": "Firma", "id": "Id",
		"dossier": "Fascicolo", "recipients": "Destinatari", "status": "Stato", "evidence": "Prova", "timeline": "Cronologia",
		"messages": "Messaggi", "receipts": "Ricevute", "hold": "Blocco legale", "hold_on": "sotto blocco legale", "hold_off": "nessun blocco legale",
		"set_hold": "Applica il blocco legale", "lift_hold": "Rimuovi il blocco legale", "export": "Scarica il pacchetto probatorio (zip)",
		"package": "Pacchetto", "packages": "Pacchetti", "sources": "Fonti", "reason": "Motivo", "warnings": "Avvisi",
		"message": "Messaggio", "headers": "Intestazioni", "body": "Testo", "html_as_text": "Parte HTML, mostrata come testo (mai eseguita)",
		"attachments": "Allegati", "size": "Dimensione", "type": "Tipo", "name": "Nome",
		"audit": "Verifica", "audits": "Verifiche eseguite", "problems": "Problemi", "unsealed": "Non sigillati", "objects": "Oggetti",
		"started": "Inizio", "scope": "Ambito", "no_audit": "Nessuna verifica ancora eseguita.",
		"stats": "Statistiche", "mailbox": "Casella", "month": "Mese", "sent": "Inviati", "received": "Ricevuti",
		"receipts_n": "Ricevute", "failures": "Mancate consegne", "total": "Totale",
		"accesslog": "Registro accessi", "chain_ok": "Catena di hash integra", "chain_broken": "Catena di hash INTERROTTA", "who": "Chi",
		"role": "Ruolo", "when": "Quando", "what": "Cosa", "target": "Oggetto", "addr": "Indirizzo", "result": "Esito",
		"users": "Utenti", "disabled": "disabilitato", "enabled": "abilitato",
		"not_found": "Non trovato", "not_found_text": "Nessun elemento dell'archivio ha questo id o Message-ID.",
		"forbidden": "Non consentito", "forbidden_text": "Il suo ruolo non lo consente.", "busy": "Archivio occupato",
		"busy_text": "Un altro processo conserva (il lavoro notturno?) sta scrivendo l'archivio. Riprovare tra poco.",
		"error":     "Errore", "ambiguous": "Più fascicoli iniziano con questo id; indicare più cifre:",
		"signed": "Firmato", "timestamp": "Marca temporale", "signer": "Firmatario", "tsa": "TSA", "development": "sviluppo (senza valore legale)",
		"created": "Creato", "prev": "Precedenti", "next": "Successivi", "page": "Pagina", "lang": "English", "lang_code": "en",
		"printed": "Stampato", "not_audited": "non ancora verificato", "audit_ok": "firma, marca e contenuto verificati",
		"runs": "Esecuzioni", "no_runs": "Nessuna esecuzione ancora registrata.", "command": "Comando", "outcome": "Esito", "duration": "Durata",
		"counts": "Conteggi", "errors": "Errori", "next_seal": "Prossima sigillatura", "unsealed_messages": "messaggi non ancora sigillati",
		"unsealed_log": "voci del registro accessi non ancora sigillate", "expected": "prevista alle", "overdue": "in ritardo: controllare il lavoro notturno",
		"not_scheduled": "non pianificata: eseguire `conserva run` ogni notte", "run_ok": "riuscita", "run_findings": "con rilievi", "run_failed": "fallita",
		"sealed_through": "Sigillato nei pacchetti fino alla voce", "sealed_none": "Nessuna voce ancora sigillata in un pacchetto",
		"sealed_verify": "confronta le voci sigillate con questo registro",
	},
}

// lang picks the language: ?lang=, then the lang cookie, then Accept-Language.
func lang(w http.ResponseWriter, r *http.Request) string {
	if l := r.URL.Query().Get("lang"); texts[l] != nil {
		http.SetCookie(w, &http.Cookie{Name: "lang", Value: l, Path: "/", MaxAge: 365 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteStrictMode})
		return l
	}
	if c, err := r.Cookie("lang"); err == nil && texts[c.Value] != nil {
		return c.Value
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		if base := strings.SplitN(tag, "-", 2)[0]; texts[base] != nil {
			return base
		}
	}
	return "en"
}
