package webdesk

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// User is an official who may sign in to the desk. The JSON names are
// those of a configuration file (YAML read through sigs.k8s.io/yaml too).
type User struct {
	// Name is the sign-in name (e.g. "anna.ek").
	Name string `json:"name"`
	// DisplayName is "Förnamn Efternamn, titel": it is recorded as who made
	// each assessment, as the terminal clients' --name is.
	DisplayName string `json:"display_name"`
	// Role is the official's role, sent as claims.sender_role where the law
	// asks who acts (e.g. "rector", "rector_delegate", "mentor").
	Role string `json:"role"`
	// PasswordHash is an argon2id hash in the PHC string format
	// ($argon2id$v=19$m=…,t=…,p=…$salt$hash, as HashPassword makes) or a
	// bcrypt hash ($2a$, $2b$, $2y$). Empty: the user signs in only
	// through the identity proxy (Config.IdentityHeader).
	PasswordHash string `json:"password_hash,omitempty"`
}

// The argon2id parameters of HashPassword: OWASP's minimum for argon2id
// (19 MiB, two passes, one lane), which keeps a sign-in fast on a small
// server while making each guess costly.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword returns an argon2id hash of password for User.PasswordHash.
func HashPassword(password string) (string, error) {
	if password == "" {
		return "", errors.New("webdesk: an empty password cannot be hashed")
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("webdesk: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// checkHash reports whether hash is a hash this package can verify.
func checkHash(hash string) error {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		_, _, _, err := parseArgon2id(hash)
		return err
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		_, err := bcrypt.Cost([]byte(hash))
		return err
	}
	return errors.New("not an argon2id ($argon2id$…) or bcrypt ($2b$…) hash")
}

type argonParams struct {
	memory  uint32
	time    uint32
	threads uint8
}

func parseArgon2id(hash string) (argonParams, []byte, []byte, error) {
	var p argonParams
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, errors.New("argon2id hash: want $argon2id$v=19$m=…,t=…,p=…$salt$hash")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil {
		return p, nil, nil, fmt.Errorf("argon2id hash parameters %q: %w", parts[3], err)
	}
	if p.memory < 8*uint32(p.threads) || p.time < 1 || p.threads < 1 || p.memory > 4*1024*1024 {
		return p, nil, nil, fmt.Errorf("argon2id hash parameters %q are out of range", parts[3])
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return p, nil, nil, fmt.Errorf("argon2id hash salt: %w", err)
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 {
		return p, nil, nil, errors.New("argon2id hash: the hash part is not base64 of at least 16 bytes")
	}
	return p, salt, key, nil
}

// verifyPassword reports whether password matches hash, in time that does
// not depend on how much of it matches.
func verifyPassword(hash, password string) bool {
	if strings.HasPrefix(hash, "$argon2id$") {
		p, salt, key, err := parseArgon2id(hash)
		if err != nil {
			return false
		}
		got := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, uint32(len(key)))
		return subtle.ConstantTimeCompare(got, key) == 1
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// Sessions last a working day at most, and end after half an hour idle.
const (
	sessionMaxAge = 8 * time.Hour
	sessionIdle   = 30 * time.Minute
)

// Failed sign-ins: after loginFailures in a row within loginWindow, a name
// may not try again until loginWindow has passed since the last failure.
const (
	loginFailures = 5
	loginWindow   = 15 * time.Minute
	// maxFailureNames is how many names' failures are kept before the
	// stale ones are dropped.
	maxFailureNames = 10000
)

// session is a signed-in official.
type session struct {
	user    *User
	csrf    string
	created time.Time
	seen    time.Time
}

// sessions holds the signed-in officials by the SHA-256 of their cookie's
// token, so that a lookup does not compare the token itself.
type sessions struct {
	mu       sync.Mutex
	byHash   map[[32]byte]*session
	failures map[string]failure
	now      func() time.Time
}

type failure struct {
	n    int
	last time.Time
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{byHash: map[[32]byte]*session{}, failures: map[string]failure{}, now: now}
}

// randomToken returns 32 random bytes, base64url.
func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webdesk: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// start opens a session for u and returns its cookie token.
func (s *sessions) start(u *User) (string, error) {
	token, err := randomToken()
	if err != nil {
		return "", err
	}
	csrf, err := randomToken()
	if err != nil {
		return "", err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	// Drop expired sessions, so that the map does not grow.
	for h, ss := range s.byHash {
		if s.expired(ss, now) {
			delete(s.byHash, h)
		}
	}
	s.byHash[sha256.Sum256([]byte(token))] = &session{user: u, csrf: csrf, created: now, seen: now}
	return token, nil
}

func (s *sessions) expired(ss *session, now time.Time) bool {
	return now.Sub(ss.created) > sessionMaxAge || now.Sub(ss.seen) > sessionIdle
}

// get returns the live session of token, and marks it used.
func (s *sessions) get(token string) *session {
	if token == "" {
		return nil
	}
	h := sha256.Sum256([]byte(token))
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.byHash[h]
	if ss == nil {
		return nil
	}
	if s.expired(ss, now) {
		delete(s.byHash, h)
		return nil
	}
	ss.seen = now
	return ss
}

// end ends the session of token.
func (s *sessions) end(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byHash, sha256.Sum256([]byte(token)))
}

// locked reports whether name has failed too often to try again now.
func (s *sessions) locked(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.failures[name]
	return f.n >= loginFailures && s.now().Sub(f.last) < loginWindow
}

// failed counts a failed sign-in of name; a success clears the count.
func (s *sessions) failed(name string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		delete(s.failures, name)
		return
	}
	// Names are whatever was typed: forget stale ones before the map grows.
	if len(s.failures) >= maxFailureNames {
		for n, f := range s.failures {
			if s.now().Sub(f.last) >= loginWindow {
				delete(s.failures, n)
			}
		}
	}
	f := s.failures[name]
	if s.now().Sub(f.last) >= loginWindow {
		f.n = 0
	}
	f.n++
	f.last = s.now()
	s.failures[name] = f
}

// proxyCSRF is the CSRF token of a user signed in by the identity proxy,
// which has no session: a MAC of the user's name under the desk's secret.
func proxyCSRF(secret []byte, name string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("webdesk csrf\x00" + name))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sameToken compares two tokens in constant time.
func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
