package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/conserva/conserva/internal/extsort"
	"github.com/conserva/conserva/scarto"
	"github.com/conserva/conserva/storage"
)

// bucketScarto (catalog.BucketScarto) holds one Proposal per disposal proposal.
// The signed documents themselves are in the store under scarto/<id>/.

// Proposal is a proposta di scarto and what became of it.
type Proposal struct {
	ID       string           `json:"proposal"`
	Created  time.Time        `json:"created"`
	Before   time.Time        `json:"before"`
	Dossiers []scarto.Dossier `json:"dossiers"`
	Signed   *SignedDoc       `json:"signed,omitempty"`
	Approval *ScartoApproval  `json:"approval,omitempty"`
	Disposal *ScartoDisposal  `json:"disposal,omitempty"`
}

// ScartoApproval records who approved a proposal, on what authorisation.
type ScartoApproval struct {
	By            string     `json:"by"`
	Authorization string     `json:"authorization,omitempty"`
	At            time.Time  `json:"at"`
	Signed        *SignedDoc `json:"signed,omitempty"`
}

// ScartoDisposal records an execution: what was deleted, what the store
// refused and why.
type ScartoDisposal struct {
	At      time.Time        `json:"at"`
	Deleted []scarto.Outcome `json:"deleted"`
	Refused []scarto.Outcome `json:"refused"`
	Signed  *SignedDoc       `json:"signed,omitempty"`
}

func scartoKey(id, name string) string { return "scarto/" + id + "/" + name }

// ErrNoProposal: no disposal proposal has that id.
var ErrNoProposal = errors.New("no disposal proposal with that id")

// ProposeScarto lists the dossiers whose retention has ended by before,
// whole (every message sealed, none under legal hold, damaged or already
// disposed of), as a signed and timestamped proposal. Nothing is proposed
// when none qualifies (the proposal is then nil).
func (a *Archive) ProposeScarto(ctx context.Context, before time.Time) (*Proposal, error) {
	ret, err := storage.ParseRetention(a.Config.Retention)
	if err != nil {
		return nil, err
	}
	dossiers, err := a.expiredDossiers(ctx, before, ret)
	if err != nil {
		return nil, err
	}
	if len(dossiers) == 0 {
		return nil, nil
	}
	id, created := newPackageID()
	p := &Proposal{ID: id, Created: created, Before: before.UTC(), Dossiers: dossiers}
	data, err := scarto.ProposalXML(id, created, p.Before, a.Config.Seal.Holder, dossiers)
	if err != nil {
		return nil, err
	}
	sd, err := a.signDocument(ctx, scartoKey(id, "proposta.xml"), data)
	if err != nil {
		return nil, err
	}
	p.Signed = &sd
	return p, a.Catalog.putJSON(bucketScarto, id, p)
}

// scartoEntry is what expiredDossiers sorts of each record: its dossier
// (hashed to a fixed size), its place in catalogue order, its raw id, and
// whether it may go.
const scartoEntry = 32 + 8 + 32 + 1

// expiredDossiers lists the dossiers every message of which may go by
// before (sealed, retention ended, no hold, no damage, not disposed of),
// in dossier order. The catalog is read once, each record reduced to a
// scartoEntry sorted on disk past a bound, so memory holds only what the
// proposal will list, not the catalog.
func (a *Archive) expiredDossiers(ctx context.Context, before time.Time, ret storage.Retention) ([]scarto.Dossier, error) {
	tmp := a.SpoolDir()
	if os.MkdirAll(tmp, 0o700) != nil {
		tmp = ""
	}
	sorted := extsort.New(tmp, scartoEntry, 1<<16)
	defer sorted.Close()
	// The packages, read first: a lookup per record would open a
	// transaction inside the catalog's pass.
	pkgs := map[string]PackageRecord{}
	if err := a.Catalog.Packages(func(p PackageRecord) error { pkgs[p.ID] = p; return nil }); err != nil {
		return nil, err
	}
	lookup := func(id string) (PackageRecord, bool, error) { p, ok := pkgs[id]; return p, ok, nil }
	may := func(r *Record) (time.Time, bool) {
		end, err := retentionEndOf(r, ret, lookup)
		return end, err == nil && !r.LegalHold && r.Disposed == "" && r.Damage == "" && r.Package != "" && !end.After(before)
	}
	var n uint64
	err := a.Catalog.Scan(func(r *Record) error {
		raw, ok := rawID(r.ID)
		if !ok {
			return fmt.Errorf("catalog: %.80q is not a SHA-256", r.ID)
		}
		e := make([]byte, 0, scartoEntry)
		h := sha256.Sum256([]byte(r.Dossier))
		e = append(e, h[:]...)
		e = binary.BigEndian.AppendUint64(e, n)
		e = append(e, raw...)
		_, ok = may(r)
		e = append(e, boolByte(ok))
		n++
		return sorted.Add(e)
	})
	if err != nil {
		return nil, err
	}
	var dossiers []scarto.Dossier
	var group []string // ids of one dossier, in catalogue order
	var groupHash []byte
	groupOK := true
	flush := func() error {
		ids := group
		group, groupHash = group[:0:0], nil
		if !groupOK || len(ids) == 0 {
			groupOK = true
			return nil
		}
		recs, err := a.Catalog.records(ids)
		if err != nil {
			return err
		}
		d := scarto.Dossier{ID: recs[0].Dossier}
		for _, r := range recs {
			end, ok := may(r)
			if !ok {
				return nil // changed since it was read
			}
			if end.After(d.RetentionEnd) {
				d.RetentionEnd = end
			}
			if d.Fascicolo == "" {
				d.Fascicolo, d.Class = r.Class.Fascicolo, r.Class.Code
			}
			d.Messages = append(d.Messages, scarto.Message{ID: r.ID, Key: r.Key, Version: r.VersionID, Kind: string(r.Kind),
				Size: r.Size, Package: r.Package, RetentionEnd: end})
		}
		sort.Slice(d.Messages, func(i, k int) bool { return d.Messages[i].ID < d.Messages[k].ID })
		dossiers = append(dossiers, d)
		return nil
	}
	err = sorted.Each(func(e []byte) error {
		if groupHash != nil && !bytes.Equal(e[:32], groupHash) {
			if err := flush(); err != nil {
				return err
			}
		}
		if groupHash == nil {
			groupHash = append([]byte(nil), e[:32]...)
		}
		group = append(group, hex.EncodeToString(e[40:72]))
		groupOK = groupOK && e[72] == 1
		return ctx.Err()
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return nil, err
	}
	sort.Slice(dossiers, func(i, k int) bool { return dossiers[i].ID < dossiers[k].ID })
	return dossiers, nil
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// Proposals lists the disposal proposals, oldest first: those the catalog
// records, and any the store keeps that it lacks (a catalog rebuilt
// without the old one), read back from their signed documents.
func (a *Archive) Proposals(ctx context.Context) ([]Proposal, error) {
	have := map[string]Proposal{}
	err := a.Catalog.forEachJSON(bucketScarto, func(k string, v []byte) error {
		var p Proposal
		if err := jsonUnmarshal(v, &p); err != nil {
			return fmt.Errorf("catalog: proposal %s: %w", k, err)
		}
		have[p.ID] = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = a.Store.List(ctx, "scarto/", func(info storage.Info) error {
		if !strings.HasSuffix(info.Key, "/proposta.xml") {
			return nil
		}
		id := strings.TrimSuffix(strings.TrimPrefix(info.Key, "scarto/"), "/proposta.xml")
		if _, ok := have[id]; ok {
			return nil
		}
		p, err := a.proposalFromStore(ctx, id)
		if err != nil {
			return err
		}
		have[id] = *p
		return nil
	})
	out := make([]Proposal, 0, len(have))
	for _, p := range have {
		out = append(out, p)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].ID < out[k].ID })
	return out, err
}

func (a *Archive) proposal(ctx context.Context, id string) (*Proposal, error) {
	var p Proposal
	found, err := a.Catalog.getJSON(bucketScarto, id, &p)
	if err != nil {
		return nil, err
	}
	if found {
		return &p, nil
	}
	if _, err := a.Store.Stat(ctx, scartoKey(id, "proposta.xml")); err != nil {
		return nil, fmt.Errorf("%w: %q", ErrNoProposal, id)
	}
	return a.proposalFromStore(ctx, id)
}

// proposalFromStore reads a proposal and what became of it back from its
// signed documents; each must verify against the kept roots.
func (a *Archive) proposalFromStore(ctx context.Context, id string) (*Proposal, error) {
	read := func(name string) (*etree.Element, *SignedDoc, error) {
		key := scartoKey(id, name)
		if _, err := a.Store.Stat(ctx, key); errors.Is(err, storage.ErrNotFound) {
			return nil, nil, nil
		}
		f, err := a.readSigned(ctx, key)
		if err != nil {
			return nil, nil, fmt.Errorf("scarto %s: %w", id, err)
		}
		doc, err := parseXML(strings.NewReader(string(f.Doc)))
		if err != nil {
			return nil, nil, fmt.Errorf("scarto %s: %s: %w", id, name, err)
		}
		return doc.Root(), &f.Info, nil
	}
	text := func(e *etree.Element, path string) string {
		if x := e.FindElement(path); x != nil {
			return x.Text()
		}
		return ""
	}
	at := func(e *etree.Element, path string) time.Time {
		t, _ := time.Parse(time.RFC3339, text(e, path))
		return t
	}
	root, sd, err := read("proposta.xml")
	if err != nil {
		return nil, err
	}
	if root == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoProposal, id)
	}
	p := &Proposal{ID: id, Created: at(root, "Data"), Before: at(root, "RetenzioneTerminataEntro"), Signed: sd}
	for _, ag := range root.SelectElements("Aggregazione") {
		d := scarto.Dossier{ID: text(ag, "IdAggregazione"), Fascicolo: text(ag, "Fascicolo"), Class: text(ag, "IndiceDiClassificazione"),
			RetentionEnd: at(ag, "FineConservazione")}
		for _, m := range ag.SelectElements("Documento") {
			d.Messages = append(d.Messages, scarto.Message{ID: text(m, "Identificativo"), Key: text(m, "Oggetto"), Kind: text(m, "Tipo"),
				Package: text(m, "Pacchetto"), RetentionEnd: at(m, "FineConservazione")})
		}
		p.Dossiers = append(p.Dossiers, d)
	}
	if root, sd, err = read("approvazione.xml"); err != nil {
		return nil, err
	} else if root != nil {
		p.Approval = &ScartoApproval{By: text(root, "ApprovatoDa"), Authorization: text(root, "Autorizzazione"), At: at(root, "Data"), Signed: sd}
	}
	if root, sd, err = read("verbale.xml"); err != nil {
		return nil, err
	} else if root != nil {
		d := &ScartoDisposal{At: at(root, "Data"), Deleted: []scarto.Outcome{}, Refused: []scarto.Outcome{}, Signed: sd}
		for _, e := range root.SelectElements("Eliminato") {
			d.Deleted = append(d.Deleted, scarto.Outcome{ID: text(e, "Identificativo"), Key: text(e, "Oggetto")})
		}
		for _, e := range root.SelectElements("NonEliminato") {
			d.Refused = append(d.Refused, scarto.Outcome{ID: text(e, "Identificativo"), Key: text(e, "Oggetto"), Reason: text(e, "Motivo")})
		}
		p.Disposal = d
	}
	return p, nil
}

// ApproveScarto records the approval of a proposal, signed and
// timestamped. The proposal must verify as it was signed.
func (a *Archive) ApproveScarto(ctx context.Context, id, by, authorization string) (*Proposal, error) {
	if strings.TrimSpace(by) == "" {
		return nil, errors.New("say who approves (--by)")
	}
	p, err := a.proposal(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.Approval != nil {
		return p, fmt.Errorf("proposal %s was already approved by %s on %s", id, p.Approval.By, p.Approval.At.Format(time.RFC3339))
	}
	if _, err := a.readSigned(ctx, scartoKey(id, "proposta.xml")); err != nil {
		return p, fmt.Errorf("refusing to approve: the proposal does not verify: %w", err)
	}
	ap := &ScartoApproval{By: by, Authorization: authorization, At: time.Now().UTC().Truncate(time.Second)}
	data, err := scarto.ApprovalXML(id, p.Signed.SHA256, ap.At, by, authorization)
	if err != nil {
		return p, err
	}
	sd, err := a.signDocument(ctx, scartoKey(id, "approvazione.xml"), data)
	if err != nil {
		return p, err
	}
	ap.Signed = &sd
	p.Approval = ap
	return p, a.Catalog.putJSON(bucketScarto, id, p)
}

// ExecuteScarto deletes what an approved proposal lists and the store
// allows: never a message under legal hold, never one whose retention the
// store still enforces (each refusal is reported). It writes the signed,
// timestamped verbale di scarto, which is itself kept. The catalog keeps
// each deleted message's record, marked disposed of.
func (a *Archive) ExecuteScarto(ctx context.Context, id string) (*Proposal, error) {
	p, err := a.proposal(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.Approval == nil {
		return p, fmt.Errorf("proposal %s is not approved: nothing is deleted without an approval (conserva scarto approve)", id)
	}
	if p.Disposal != nil {
		return p, fmt.Errorf("proposal %s was already executed on %s", id, p.Disposal.At.Format(time.RFC3339))
	}
	for _, name := range []string{"proposta.xml", "approvazione.xml"} {
		if _, err := a.readSigned(ctx, scartoKey(id, name)); err != nil {
			return p, fmt.Errorf("refusing to execute: %s does not verify: %w", name, err)
		}
	}
	ret, err := storage.ParseRetention(a.Config.Retention)
	if err != nil {
		return p, err
	}
	del, _ := a.Store.(storage.Deleter)
	d := &ScartoDisposal{At: time.Now().UTC().Truncate(time.Second), Deleted: []scarto.Outcome{}, Refused: []scarto.Outcome{}}
	var gone []string
	for _, dos := range p.Dossiers {
		for _, m := range dos.Messages {
			o := scarto.Outcome{ID: m.ID, Key: m.Key}
			r, err := a.Catalog.Get(m.ID)
			switch {
			case err != nil:
				o.Reason = "catalog: " + err.Error()
			case r == nil:
				o.Reason = "not in the catalog"
			case r.LegalHold:
				o.Reason = "under legal hold"
			case r.Disposed != "":
				o.Reason = "already disposed of by proposal " + r.Disposed
			case del == nil:
				o.Reason = "the store cannot delete"
			default:
				if end, err := a.retentionEnd(ctx, r, ret); err != nil {
					o.Reason = err.Error()
					break
				} else if time.Now().Before(end) {
					o.Reason = "under retention until " + end.Format(time.RFC3339) + " (the later of the configured and the sealed retention)"
					break
				}
				if err := del.DeleteExpired(ctx, m.Key, firstNonEmpty(m.Version, r.VersionID), ret, time.Now()); err != nil {
					o.Reason = err.Error()
				}
			}
			if o.Reason != "" {
				d.Refused = append(d.Refused, o)
				continue
			}
			d.Deleted = append(d.Deleted, o)
			gone = append(gone, m.ID)
		}
	}
	err = a.Catalog.Update(func(get func(string) (*Record, error), put func(*Record) error) error {
		for _, id := range gone {
			r, err := get(id)
			if err != nil || r == nil {
				return err
			}
			r.Disposed = p.ID
			if err := put(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return p, fmt.Errorf("%d messages deleted but not marked disposed of in the catalog: %w", len(gone), err)
	}
	data, err := scarto.DisposalXML(id, p.Signed.SHA256, d.At, p.Approval.By, p.Approval.Authorization, d.Deleted, d.Refused)
	if err != nil {
		return p, err
	}
	sd, err := a.signDocument(ctx, scartoKey(id, "verbale.xml"), data)
	if err != nil {
		return p, err
	}
	d.Signed = &sd
	p.Disposal = d
	return p, a.Catalog.putJSON(bucketScarto, id, p)
}

// ExportScarto writes each signed document of a proposal, with what checks
// it, into dir/proposta, dir/approvazione and dir/verbale.
func (a *Archive) ExportScarto(ctx context.Context, id, dir string) ([]string, error) {
	if _, err := a.proposal(ctx, id); err != nil {
		return nil, err
	}
	var done []string
	for _, name := range []string{"proposta", "approvazione", "verbale"} {
		key := scartoKey(id, name+".xml")
		if _, err := a.Store.Stat(ctx, key); errors.Is(err, storage.ErrNotFound) {
			continue
		}
		f, err := a.readSigned(ctx, key)
		if err != nil {
			return done, err
		}
		if err := writeSignedExport(dir+"/"+name, name+".xml", f, "conserva-scarto.xsd", "Scarto "+id+": "+name); err != nil {
			return done, err
		}
		done = append(done, name)
	}
	return done, nil
}

// disposedIDs maps every message a kept verbale di scarto says was deleted
// to its proposal. Only verbali whose signature and timestamp verify against
// the kept roots count: a forged one never explains a missing message.
func (a *Archive) disposedIDs(ctx context.Context) (map[string]string, []string, error) {
	out := map[string]string{}
	var warnings []string
	err := a.Store.List(ctx, "scarto/", func(info storage.Info) error {
		if !strings.HasSuffix(info.Key, "/verbale.xml") {
			return nil
		}
		pid := strings.TrimSuffix(strings.TrimPrefix(info.Key, "scarto/"), "/verbale.xml")
		f, err := a.readSigned(ctx, info.Key)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("verbale di scarto %s does not verify, not used: %v", pid, err))
			return nil
		}
		doc, err := parseXML(strings.NewReader(string(f.Doc)))
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("verbale di scarto %s: %v", pid, err))
			return nil
		}
		for _, e := range doc.FindElements("//Eliminato/Identificativo") {
			out[e.Text()] = pid
		}
		return nil
	})
	return out, warnings, err
}

// restoreDisposals, at the end of a rebuild, turns the records marked
// missing whose deletion a verified verbale di scarto records into
// disposed ones, and takes them out of the rebuild's errors.
func (a *Archive) restoreDisposals(ctx context.Context, sum *RebuildSummary) error {
	disposed, warnings, err := a.disposedIDs(ctx)
	sum.Warnings = append(sum.Warnings, warnings...)
	if err != nil || len(disposed) == 0 {
		return err
	}
	fixed := map[string]bool{}
	err = a.Catalog.Update(func(get func(string) (*Record, error), put func(*Record) error) error {
		for id, pid := range disposed {
			r, err := get(id)
			if err != nil {
				return err
			}
			if r == nil || r.Damage != "missing from the store" {
				continue
			}
			r.Damage, r.Flagged, r.FlagReason, r.Disposed = "", false, "", pid
			if r.Signature != "" && r.Signature != "valid" {
				r.Flagged, r.FlagReason = true, string(r.Signature)+": "+r.Reason
			}
			fixed[r.Key] = true
			if err := put(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	kept := sum.Failures[:0]
	for _, f := range sum.Failures {
		if fixed[f.Source] && strings.Contains(f.Error, "missing from the store") {
			sum.Errors--
			continue
		}
		kept = append(kept, f)
	}
	sum.Failures = kept
	sum.Missing -= len(fixed)
	return nil
}

// retentionEnd is when a message's retention ends: the later of what the
// configuration says now and what its package recorded when it was sealed,
// so that shortening the configuration, by mistake or by malice, never ends
// a retention early.
func (a *Archive) retentionEnd(ctx context.Context, r *Record, ret storage.Retention) (time.Time, error) {
	return retentionEndOf(r, ret, func(id string) (PackageRecord, bool, error) {
		var p PackageRecord
		found, err := a.Catalog.getJSON(bucketPackages, id, &p)
		return p, found, err
	})
}

// retentionEndOf is retentionEnd with the packages looked up by pkg.
func retentionEndOf(r *Record, ret storage.Retention, pkg func(id string) (PackageRecord, bool, error)) (time.Time, error) {
	end := ret.Until(r.IngestedAt).UTC()
	if r.Package == "" || !ValidPackageID(r.Package) {
		return end, fmt.Errorf("%s: not sealed", r.ID)
	}
	p, found, err := pkg(r.Package)
	if err != nil || !found {
		return end, fmt.Errorf("%s: its package %s is not catalogued (%v)", r.ID, r.Package, err)
	}
	if p.Retention != "" {
		sealed, err := storage.ParseRetention(p.Retention)
		if err != nil {
			return end, fmt.Errorf("%s: the retention its package was sealed with: %w", r.ID, err)
		}
		if e := sealed.Until(r.IngestedAt).UTC(); e.After(end) {
			end = e
		}
	}
	return end, nil
}
