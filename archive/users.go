package archive

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
)

// Roles of the web interface's users.
const (
	RoleLegal   = "legal"   // search, read, download evidence packs, legal hold
	RoleAuditor = "auditor" // read-only: audits, packages, access log
	RoleRecords = "records" // sources, runs, statistics
	RoleAdmin   = "admin"   // users
)

// Roles lists the roles a user may have.
var Roles = []string{RoleLegal, RoleAuditor, RoleRecords, RoleAdmin}

// User is one account of the web interface. The password is kept only as
// an argon2id hash; the catalog is rebuilt from the store, but users are
// not evidence: a rebuild keeps them (see rebuild) or they are added again.
type User struct {
	Name     string    `json:"name"`
	Role     string    `json:"role"`
	Disabled bool      `json:"disabled,omitempty"`
	Created  time.Time `json:"created"`
	// Hash is "argon2id$t$m$p$salt$key", base64 raw std.
	Hash string `json:"hash"`
}

// argon2id parameters (RFC 9106's second recommended option: 64 MiB, 3 passes).
const (
	argonTime    = 3
	argonMemory  = 64 * 1024
	argonThreads = 2
	argonKeyLen  = 32
)

var userName = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// ErrNoUser: no such user.
var ErrNoUser = errors.New("no such user")

// ValidRole says whether role is one of Roles.
func ValidRole(role string) bool {
	for _, r := range Roles {
		if r == role {
			return true
		}
	}
	return false
}

// NewUser makes a user with the password hashed (argon2id, random salt).
func NewUser(name, role, password string) (*User, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if !userName.MatchString(name) {
		return nil, fmt.Errorf("user name %.80q: use 1-64 of a-z 0-9 . _ @ - (starting with a letter or digit)", name)
	}
	if !ValidRole(role) {
		return nil, fmt.Errorf("role %.40q: one of %s", role, strings.Join(Roles, ", "))
	}
	if len(password) < 8 {
		return nil, errors.New("the password needs at least 8 characters")
	}
	if len(password) > 1024 {
		return nil, errors.New("the password is longer than 1024 bytes")
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return &User{Name: name, Role: role, Created: time.Now().UTC(),
		Hash: fmt.Sprintf("argon2id$%d$%d$%d$%s$%s", argonTime, argonMemory, argonThreads, enc.EncodeToString(salt), enc.EncodeToString(key))}, nil
}

// CheckPassword says whether password is the user's, in constant time.
func (u *User) CheckPassword(password string) bool {
	var t, m uint32
	var p uint8
	parts := strings.Split(u.Hash, "$")
	if len(parts) != 6 || parts[0] != "argon2id" {
		return false
	}
	if _, err := fmt.Sscanf(parts[1]+" "+parts[2]+" "+parts[3], "%d %d %d", &t, &m, &p); err != nil || t == 0 || t > 10 || m > 1<<20 || p == 0 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(password) > 1024 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// DummyCheck spends the time of a password check, so that an unknown user
// takes as long to refuse as a wrong password.
func DummyCheck(password string) {
	argon2.IDKey([]byte(password), make([]byte, 16), argonTime, argonMemory, argonThreads, argonKeyLen)
}

// PutUser adds or replaces a user.
func (c *Catalog) PutUser(u *User) error { return c.PutJSON(bucketUsers, u.Name, u) }

// User returns the named user, or ErrNoUser.
func (c *Catalog) User(name string) (*User, error) {
	data, err := c.Value(bucketUsers, strings.ToLower(strings.TrimSpace(name)))
	if err != nil {
		return nil, err
	}
	if data == nil {
		return nil, fmt.Errorf("%.64q: %w", name, ErrNoUser)
	}
	u := new(User)
	if err := json.Unmarshal(data, u); err != nil {
		return nil, damagedValue("user", []byte(name), err)
	}
	return u, nil
}

// Users lists every user, by name.
func (c *Catalog) Users() ([]*User, error) {
	var users []*User
	err := c.Each(bucketUsers, false, func(k, v []byte) error {
		u := new(User)
		if err := json.Unmarshal(v, u); err != nil {
			return damagedValue("user", k, err)
		}
		users = append(users, u)
		return nil
	})
	return users, err
}

// SetUserDisabled disables (or enables again) a user.
func (c *Catalog) SetUserDisabled(name string, disabled bool) error {
	u, err := c.User(name)
	if err != nil {
		return err
	}
	u.Disabled = disabled
	return c.PutUser(u)
}
