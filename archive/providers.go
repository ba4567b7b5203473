package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/storage"
)

// The providers' trust anchors given at ingest are kept: stored write-once
// by hash (trust/providers/<sha256>.pem or .ldif) and listed in the catalog,
// so that export, audit and rebuild judge the providers' signatures as
// ingest did without being given the file again (bucketTrust).

// TrustFile is one kept file of provider trust anchors.
type TrustFile struct {
	SHA256  string    `json:"sha256"`
	Key     string    `json:"key"`
	Name    string    `json:"name"` // the file's base name when it was given
	Anchors int       `json:"anchors"`
	Added   time.Time `json:"added"`
}

// ProviderTrust is the provider trust in force: every kept file plus the
// one given now (override, else [trust] of conserva.toml), which is kept
// too. files lists what it was made of; trust is nil when there is none.
func (a *Archive) ProviderTrust(ctx context.Context, override string) (*pec.TrustStore, []TrustFile, error) {
	kept, err := a.keptTrust()
	if err != nil {
		return nil, nil, err
	}
	var trust *pec.TrustStore
	var files []TrustFile
	add := func(f TrustFile, data []byte) error {
		t, err := pec.ParseTrust(data)
		if err != nil {
			return fmt.Errorf("provider trust %s (%s): %w", f.Name, f.Key, err)
		}
		if trust == nil {
			trust = pec.NewTrustStore()
		}
		trust.Add(t.Anchors()...)
		files = append(files, f)
		return nil
	}
	path := override
	if path == "" && a.Config.Trust != "" {
		path = a.path(a.Config.Trust)
	}
	if path != "" {
		data, err := pec.ReadTrustFile(path)
		if err != nil {
			return nil, nil, err
		}
		t, err := pec.ParseTrust(data)
		if err != nil {
			return nil, nil, fmt.Errorf("trust anchors %s: %w", path, err)
		}
		f, err := a.keepTrust(ctx, filepath.Base(path), data, t.Len())
		if err != nil {
			return nil, nil, err
		}
		if _, ok := kept[f.SHA256]; !ok {
			kept[f.SHA256] = f
		}
	}
	var sums []string
	for s := range kept {
		sums = append(sums, s)
	}
	sort.Strings(sums)
	for _, s := range sums {
		f := kept[s]
		// A kept file that is not what its name says is left out (audit
		// names it): one damaged file must not stop every command.
		if !trustKey(f.Key, f.SHA256) {
			a.Log.Warn("provider trust: the catalog entry does not name its file by its hash: not used", "key", f.Key)
			continue
		}
		data, err := a.readAll(ctx, f.Key)
		if err != nil {
			a.Log.Warn("provider trust: unreadable: not used", "key", f.Key, "error", err)
			continue
		}
		if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != f.SHA256 {
			a.Log.Warn("provider trust: damaged (does not hash to its name): not used", "key", f.Key)
			continue
		}
		if err := add(f, data); err != nil {
			return nil, nil, err
		}
	}
	return trust, files, nil
}

// keepTrust stores a trust file write-once and lists it in the catalog.
func (a *Archive) keepTrust(ctx context.Context, name string, data []byte, anchors int) (TrustFile, error) {
	s := sha256.Sum256(data)
	sum := hex.EncodeToString(s[:])
	ext := ".pem"
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		ext = ".ldif"
	}
	f := TrustFile{SHA256: sum, Key: "trust/providers/" + sum + ext, Name: name, Anchors: anchors, Added: time.Now().UTC()}
	if a.Catalog == nil { // a rebuild without a readable catalog: kept in the store only
		return f, a.putBytes(ctx, f.Key, data)
	}
	var have TrustFile
	if found, err := a.Catalog.getJSON(bucketTrust, sum, &have); err != nil || found {
		return have, err
	}
	if err := a.putBytes(ctx, f.Key, data); err != nil {
		return f, fmt.Errorf("keeping trust anchors %s: %w", name, err)
	}
	return f, a.Catalog.putJSON(bucketTrust, sum, f)
}

// keptTrust lists the kept trust files, by hash.
func (a *Archive) keptTrust() (map[string]TrustFile, error) {
	out := map[string]TrustFile{}
	if a.Catalog == nil {
		return out, nil // a rebuild without a readable catalog: recoverTrust reads the store
	}
	err := a.Catalog.Each(bucketTrust, false, func(k, v []byte) error {
		var f TrustFile
		if err := json.Unmarshal(v, &f); err != nil {
			return fmt.Errorf("catalog trust entry %s: %w", k, err)
		}
		out[f.SHA256] = f
		return nil
	})
	return out, err
}

// TrustFiles lists the kept provider trust files, oldest first.
func (a *Archive) TrustFiles() ([]TrustFile, error) {
	kept, err := a.keptTrust()
	var out []TrustFile
	for _, f := range kept {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Added.Before(out[j].Added) })
	return out, err
}

// recoverTrust lists the kept trust files from the store itself (a rebuild
// has no catalog to read them from) and lists them in this catalog.
func (a *Archive) recoverTrust(ctx context.Context) error {
	var keys []string
	err := a.Store.List(ctx, "trust/providers/", func(i storage.Info) error {
		keys = append(keys, i.Key)
		return nil
	})
	if err != nil {
		return err
	}
	for _, key := range keys {
		data, err := a.readAll(ctx, key)
		if err != nil {
			return err
		}
		t, err := pec.ParseTrust(data)
		if err != nil {
			return fmt.Errorf("provider trust %s: %w", key, err)
		}
		name := strings.TrimSuffix(filepath.Base(key), filepath.Ext(key))
		if _, err := a.keepTrust(ctx, name, data, t.Len()); err != nil {
			return err
		}
	}
	return nil
}

// readAll reads a whole (small) evidence object.
func (a *Archive) readAll(ctx context.Context, key string) ([]byte, error) {
	rc, err := a.readEvidence(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// anchorsPEM is the trust's anchors as one PEM bundle (what openssl reads;
// an LDIF export is turned into PEM for the evidence pack).
func anchorsPEM(t *pec.TrustStore) []byte {
	var b bytes.Buffer
	for _, c := range t.Anchors() {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// TrustHashes are the hashes of trust files, as verdicts record them.
func TrustHashes(files []TrustFile) []string {
	out := make([]string, 0, len(files))
	for _, f := range files {
		out = append(out, f.SHA256)
	}
	return out
}

// trustKey says whether key is where a trust file with that SHA-256 is
// kept: the name is the hash, so a file replaced in place is noticed.
func trustKey(key, sum string) bool {
	return validID(sum) && (key == "trust/providers/"+sum+".pem" || key == "trust/providers/"+sum+".ldif")
}

// auditTrust checks the kept trust objects: each hashes to its name, each
// provider file is listed in the catalog and each listed one is stored. A
// trust file nobody gave (dropped into the store) would make forgeries
// valid at the next rebuild: it is a problem, never silently used.
func (a *Archive) auditTrust(ctx context.Context) []Problem {
	var probs []Problem
	kept, err := a.keptTrust()
	if err != nil {
		return []Problem{{Key: "trust/", Problem: err.Error()}}
	}
	seen := map[string]bool{}
	var keys []string
	if err := a.Store.List(ctx, "trust/", func(i storage.Info) error {
		keys = append(keys, i.Key)
		return nil
	}); err != nil {
		return []Problem{{Key: "trust/", Problem: "cannot be listed: " + err.Error()}}
	}
	for _, key := range keys {
		base := filepath.Base(key)
		sum := strings.TrimSuffix(strings.TrimSuffix(base, ".pem"), ".ldif")
		data, err := a.readAll(ctx, key)
		if err != nil {
			probs = append(probs, Problem{Key: key, Problem: "unreadable: " + err.Error()})
			continue
		}
		if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != sum {
			probs = append(probs, Problem{Key: key, Problem: "damaged: does not hash to its name"})
			continue
		}
		if strings.HasPrefix(key, "trust/providers/") {
			seen[sum] = true
			if f, ok := kept[sum]; !ok || f.Key != key {
				probs = append(probs, Problem{Key: key, Problem: "a provider trust file the catalog does not list (nobody gave it to ingest): not used"})
			}
		}
	}
	for sum, f := range kept {
		if !seen[sum] {
			probs = append(probs, Problem{Key: f.Key, Problem: "listed in the catalog as kept provider trust, missing from the store"})
		}
	}
	return probs
}
