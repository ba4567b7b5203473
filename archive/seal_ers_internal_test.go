package archive

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"testing"

	"github.com/conserva/conserva/ers"
	"github.com/conserva/conserva/storage"
)

// TestResumedTreeIsTheSealedOne: the objects a seal run remembers for its
// records are those a resumed run reads back from the index: the tree
// rebuilt from the index fits the timestamp the run got, or a resumed run
// could never attach its journaled token.
func TestResumedTreeIsTheSealedOne(t *testing.T) {
	a, err := Open(filepath.Join(t.TempDir(), "a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	var recs []*Record
	for _, s := range []string{"one", "two", "three"} {
		sum := sha256.Sum256([]byte(s))
		id := hex.EncodeToString(sum[:])
		if _, err := a.Store.Put(ctx, storage.MessageKey(id), bytes.NewReader([]byte(s)), id); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &Record{ID: id, Key: storage.MessageKey(id), Size: int64(len(s))})
	}
	if _, err := a.Catalog.Insert(recs); err != nil {
		t.Fatal(err)
	}
	pkgs, _, err := a.Seal(ctx, SealOptions{})
	if err != nil || len(pkgs) != 1 {
		t.Fatal(pkgs, err)
	}
	objs, err := a.packageObjects(ctx, pkgs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	// 5 package files, 3 messages, 3 metadata files and 3 aggregazione
	// records (these bare records name no dossier: each is its own), and 4
	// validation files (the signer's, the TSA's and the development CA's
	// certificates, the CA's CRL), and metadata.tar, the segment that
	// holds the metadata and aggregazione files.
	if len(objs) != 5+3+3+3+4+1 {
		t.Fatalf("%d objects", len(objs))
	}
	var leaves [][]byte
	for _, o := range objs {
		leaves = append(leaves, o.SHA256)
	}
	sealedTree(t, a, pkgs[0].ID, recs[0].ID, leaves)
}

// sealedTree: the hash tree built from leaves (the package's objects read
// back) is the one whose root the archive timestamp of the evidence record
// of id in pkg covers.
func sealedTree(t *testing.T, a *Archive, pkg, id string, leaves [][]byte) {
	t.Helper()
	tree, err := ers.Build(crypto.SHA256, leaves)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := a.readERS(context.Background(), ersKey(pkg, id, 1))
	if err != nil {
		t.Fatal(err)
	}
	er, err := ers.Parse(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Attach(er.Chains[0][0].TimeStamp); err != nil {
		t.Fatalf("the tree read back from the index is not the sealed one: %v", err)
	}
}
