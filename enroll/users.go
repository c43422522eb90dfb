package enroll

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/goreload/reload/wire"
)

// DefaultIterations is the PBKDF2-HMAC-SHA512 iteration count for new
// password hashes (OWASP's 2023 figure for SHA-512).
const DefaultIterations = 210000

// ErrBadUserName reports an account name with characters RFC 6940 §11.3
// asks enrollment servers to refuse.
var ErrBadUserName = errors.New("enroll: illegal user name")

// User is one account of a UserDB.
type User struct {
	Name         string   `json:"name"`
	PasswordHash string   `json:"password_hash"` // pbkdf2-sha512$iterations$salt$hash (base64)
	NodeIDs      []string `json:"node_ids,omitempty"`
}

// UserDB maps user names to password hashes and the Node-IDs assigned to
// them. It is safe for concurrent use. With a path it is saved to that
// file (JSON, mode 0600) after every change.
type UserDB struct {
	// Iterations for new hashes; 0 means DefaultIterations.
	Iterations int

	mu    sync.Mutex
	path  string
	users map[string]*User
	dummy string // hash compared against for unknown users
}

// NewUserDB returns an empty in-memory database.
func NewUserDB() *UserDB { return &UserDB{users: map[string]*User{}} }

// LoadUserDB reads path; a missing file gives an empty database that
// will be created on the first change.
func LoadUserDB(path string) (*UserDB, error) {
	db := NewUserDB()
	db.path = path
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return db, nil
	}
	if err != nil {
		return nil, err
	}
	var list struct {
		Users []*User `json:"users"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("enroll: %s: %w", path, err)
	}
	for _, u := range list.Users {
		db.users[u.Name] = u
	}
	return db, nil
}

// ValidAccountName reports whether name may be an account: 1 to 254
// bytes of letters, digits and ".-_+@", with at most one "@" (RFC 6940
// §11.3: "only legal characters in the name (e.g., no embedded NULs)").
func ValidAccountName(name string) bool {
	if name == "" || len(name) > 254 || strings.Count(name, "@") > 1 {
		return false
	}
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.ContainsRune(".-_+@", c):
		default:
			return false
		}
	}
	return true
}

// SetPassword creates the account or changes its password.
func (db *UserDB) SetPassword(name, password string) error {
	if !ValidAccountName(name) {
		return fmt.Errorf("%w: %q", ErrBadUserName, name)
	}
	h, err := db.hash(password)
	if err != nil {
		return err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	u := db.users[name]
	if u == nil {
		u = &User{Name: name}
		db.users[name] = u
	}
	u.PasswordHash = h
	return db.saveLocked()
}

func (db *UserDB) iterations() int {
	if db.Iterations > 0 {
		return db.Iterations
	}
	return DefaultIterations
}

func (db *UserDB) hash(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	it := db.iterations()
	key, err := pbkdf2.Key(sha512.New, password, salt, it, 32)
	if err != nil {
		return "", err
	}
	b64 := base64.RawStdEncoding
	return "pbkdf2-sha512$" + strconv.Itoa(it) + "$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(key), nil
}

// checkHash compares password with a stored hash in constant time.
func checkHash(stored, password string) bool {
	parts := strings.Split(stored, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha512" {
		return false
	}
	it, err := strconv.Atoi(parts[1])
	if err != nil || it < 1 || it > 10_000_000 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[2])
	want, err2 := b64.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got, err := pbkdf2.Key(sha512.New, password, salt, it, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

// Authenticate checks a user's password. Unknown users cost as much time
// as known ones.
func (db *UserDB) Authenticate(name, password string) bool {
	db.mu.Lock()
	u := db.users[name]
	var stored string
	if u != nil {
		stored = u.PasswordHash
	} else {
		if db.dummy == "" {
			db.dummy, _ = db.hash("")
		}
		stored = db.dummy
	}
	db.mu.Unlock()
	ok := checkHash(stored, password)
	return ok && u != nil
}

// Has reports whether the account exists.
func (db *UserDB) Has(name string) bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.users[name] != nil
}

// Names lists the accounts in order.
func (db *UserDB) Names() []string {
	db.mu.Lock()
	defer db.mu.Unlock()
	out := make([]string, 0, len(db.users))
	for n := range db.users {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// NodeIDs returns the first n Node-IDs of the account, drawing new ones
// of idLen bytes from rnd (a cryptographically secure source, RFC 6940
// §11.3) when it has fewer, and recording them so that the same user
// gets the same Node-IDs again.
func (db *UserDB) NodeIDs(name string, n, idLen int, rnd io.Reader) ([]wire.NodeID, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	u := db.users[name]
	if u == nil {
		return nil, fmt.Errorf("enroll: no user %q", name)
	}
	out := make([]wire.NodeID, 0, n)
	for _, s := range u.NodeIDs {
		if len(out) == n {
			break
		}
		id, err := wire.ParseNodeID(s)
		if err != nil || id.Len() != idLen {
			continue // assigned under another node-id-length
		}
		out = append(out, id)
	}
	changed := false
	for len(out) < n {
		b := make([]byte, idLen)
		if _, err := io.ReadFull(rnd, b); err != nil {
			return nil, err
		}
		id, err := wire.NodeIDFromBytes(b)
		if err != nil {
			return nil, err
		}
		if !id.Valid() || id.IsWildcard() {
			continue
		}
		out = append(out, id)
		u.NodeIDs = append(u.NodeIDs, id.String())
		changed = true
	}
	if changed {
		if err := db.saveLocked(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Save writes the database to its file (no-op in memory).
func (db *UserDB) Save() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.saveLocked()
}

// SaveAs sets the database's file and writes it.
func (db *UserDB) SaveAs(path string) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.path = path
	return db.saveLocked()
}

func (db *UserDB) saveLocked() error {
	if db.path == "" {
		return nil
	}
	var list struct {
		Users []*User `json:"users"`
	}
	for _, n := range sortedKeys(db.users) {
		list.Users = append(list.Users, db.users[n])
	}
	b, err := json.MarshalIndent(&list, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(db.path), ".users-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), db.path)
}

func sortedKeys(m map[string]*User) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
