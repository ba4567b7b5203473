package archive

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestUsersInCatalog(t *testing.T) {
	dir := t.TempDir()
	cat, err := OpenCatalog(filepath.Join(dir, "catalog.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	u, err := NewUser("Anna", RoleLegal, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(u.Hash, "correct horse") || !strings.HasPrefix(u.Hash, "argon2id$") {
		t.Fatalf("hash %q", u.Hash)
	}
	if err := cat.PutUser(u); err != nil {
		t.Fatal(err)
	}
	got, err := cat.User("anna")
	if err != nil || got.Role != RoleLegal || !got.CheckPassword("correct horse") || got.CheckPassword("correct horsE") {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := cat.User("bob"); !errors.Is(err, ErrNoUser) {
		t.Fatalf("unknown user: %v", err)
	}
	if err := cat.SetUserDisabled("anna", true); err != nil {
		t.Fatal(err)
	}
	list, _ := cat.Users()
	if len(list) != 1 || !list[0].Disabled {
		t.Fatalf("%+v", list)
	}
	cat.Close()
	for _, bad := range [][3]string{{"", RoleLegal, "longenough"}, {"a b", RoleLegal, "longenough"}, {"x", "root", "longenough"}, {"x", RoleAdmin, "short"}} {
		if _, err := NewUser(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("NewUser%q accepted", bad)
		}
	}
	// A damaged hash never matches.
	if (&User{Hash: "argon2id$3$65536$2$$"}).CheckPassword("") {
		t.Fatal("empty hash matched")
	}
}

// A reader (read-only, shared lock) and a writer in other processes take
// turns: the shared archive opens the catalog only for one use.
func TestSharedTakesTurns(t *testing.T) {
	dir := t.TempDir()
	a, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	s, err := OpenShared(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Between uses nothing is held: the CLI's Open succeeds at once.
	b, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	// While the CLI holds it, a use waits and gives up with ErrBusy.
	s.Wait = 200 * time.Millisecond
	if err := s.View(context.Background(), func(*Archive) error { return nil }); !errors.Is(err, ErrBusy) {
		t.Fatalf("view while another writer holds it: %v", err)
	}
	b.Close()
	err = s.View(context.Background(), func(a *Archive) error {
		u, _ := NewUser("z", RoleAdmin, "longenough")
		return a.Catalog.PutUser(u)
	})
	if !IsReadOnly(err) {
		t.Fatalf("write in a view: %v", err)
	}
	err = s.Update(context.Background(), func(a *Archive) error {
		u, _ := NewUser("z", RoleAdmin, "longenough")
		return a.Catalog.PutUser(u)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Users are not evidence, but a catalog rebuild keeps them.
func TestRebuildKeepsUsers(t *testing.T) {
	a, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	u, _ := NewUser("anna", RoleAuditor, "long-enough")
	if err := a.Catalog.PutUser(u); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Rebuild(context.Background(), nil, nil); err != nil {
		t.Fatal(err)
	}
	got, err := a.Catalog.User("anna")
	if err != nil || got.Role != RoleAuditor || !got.CheckPassword("long-enough") {
		t.Fatalf("after rebuild: %+v %v", got, err)
	}
}
