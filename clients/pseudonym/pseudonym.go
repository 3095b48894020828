// Package pseudonym turns a Swedish personal identity number (personnummer)
// into a keyed pseudonym, so that messages' metadata and the audit log can
// name a child consistently without the broker learning who the child is.
//
// The pseudonym is HMAC-SHA256 of the normalised twelve-digit number under a
// secret shared by the agencies of one deployment and never by the broker.
// Agencies holding the same key derive the same pseudonym for the same child,
// which is what lets a consent recorded by social services match a school's
// disclosure.
//
//	key, _ := pseudonym.LoadKey("data/agencies/rosengard-skola/pseudonym.key")
//	pnr, _ := pseudonym.Parse("20120304-2385")
//	p := key.Of(pnr) // "ps-…"
package pseudonym

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/keys"
)

// KeyFile is the key's file name in an agency's key directory.
const KeyFile = keys.PseudonymKeyFile

// ErrInvalid is wrapped by every error about a malformed personnummer.
var ErrInvalid = errors.New("pseudonym: not a valid personnummer")

// Personnummer is a validated personal identity number.
type Personnummer struct {
	digits string // twelve digits, century included
	birth  time.Time
}

// Parse validates a personnummer written as YYYYMMDD-NNNN, YYYYMMDDNNNN,
// YYMMDD-NNNN or YYMMDDNNNN (YYMMDD+NNNN for someone 100 or older), including
// its check digit. A samordningsnummer (day plus 60) is accepted too.
func Parse(s string) (Personnummer, error) {
	s = strings.TrimSpace(s)
	// The only separator is the one before the last four digits: a '+' or
	// '-' elsewhere is a typing error, and a stray '+' would move the birth
	// a century back.
	d, sep := s, byte(0)
	if i := len(s) - 5; i >= 0 && (s[i] == '-' || s[i] == '+') {
		d, sep = s[:i]+s[i+1:], s[i]
	}
	hundred := sep == '+'
	for _, r := range d {
		if r < '0' || r > '9' {
			return Personnummer{}, fmt.Errorf("%w: %q: write it as YYYYMMDD-NNNN", ErrInvalid, s)
		}
	}
	now := time.Now()
	switch len(d) {
	case 12:
		if hundred {
			return Personnummer{}, fmt.Errorf("%w: %q: '+' (100 years or older) goes only with a two-digit year; write YYYYMMDD-NNNN", ErrInvalid, s)
		}
	case 10:
		// Two-digit year: the century that makes the person at most 99 years
		// old today (a birthday later this year means the century before),
		// or 100+ when written with '+'.
		yy := int(d[0]-'0')*10 + int(d[1]-'0')
		year := now.Year() - (now.Year()-yy)%100
		if b, err := birthDate(fmt.Sprintf("%04d", year) + d[2:6]); err == nil && b.After(now) {
			year -= 100
		}
		if hundred {
			year -= 100
		}
		d = fmt.Sprintf("%04d", year)[:2] + d
	default:
		return Personnummer{}, fmt.Errorf("%w: %q has %d digits, want 10 or 12 (YYYYMMDD-NNNN)", ErrInvalid, s, len(d))
	}
	birth, err := birthDate(d[:8])
	if err != nil {
		return Personnummer{}, fmt.Errorf("%w: %q: %s is not a date", ErrInvalid, s, d[:8])
	}
	if birth.After(now) {
		return Personnummer{}, fmt.Errorf("%w: %q: born %s, which is in the future", ErrInvalid, s, birth.Format(time.DateOnly))
	}
	if !luhn(d[2:]) {
		return Personnummer{}, fmt.Errorf("%w: %q: the check digit (the last digit) is wrong; check for a typing error", ErrInvalid, s)
	}
	return Personnummer{digits: d, birth: birth}, nil
}

// birthDate parses YYYYMMDD, taking a samordningsnummer's day (plus 60)
// back to the day of birth.
func birthDate(yyyymmdd string) (time.Time, error) {
	day := int(yyyymmdd[6]-'0')*10 + int(yyyymmdd[7]-'0')
	if day > 60 {
		yyyymmdd = yyyymmdd[:6] + fmt.Sprintf("%02d", day-60)
	}
	return time.Parse("20060102", yyyymmdd)
}

// luhn checks the check digit of the ten-digit form.
func luhn(ten string) bool {
	sum := 0
	for i, r := range ten {
		n := int(r - '0')
		if i%2 == 0 {
			if n *= 2; n > 9 {
				n -= 9
			}
		}
		sum += n
	}
	return sum%10 == 0
}

// BirthDate returns the date of birth as YYYY-MM-DD.
func (p Personnummer) BirthDate() string { return p.birth.Format(time.DateOnly) }

// String returns the number as YYYYMMDD-NNNN.
func (p Personnummer) String() string { return p.digits[:8] + "-" + p.digits[8:] }

// Key is a deployment's pseudonym secret.
type Key struct{ secret []byte }

// WriteKey creates a new random key at path (mode 0600). It never replaces
// an existing file. The file format belongs to package keys.
func WriteKey(path string) error { return keys.WritePseudonymKey(path) }

// CopyKey copies the key at from to a new file to (mode 0600), to hand it to
// an agency with its other keys. It never replaces an existing file.
func CopyKey(from, to string) error { return keys.CopyPseudonymKey(from, to) }

// LoadKey reads a key written by WriteKey.
func LoadKey(path string) (*Key, error) {
	secret, err := keys.LoadPseudonymSecret(path)
	if err != nil {
		return nil, fmt.Errorf("pseudonym: %w", err)
	}
	return &Key{secret: secret}, nil
}

// Of returns the pseudonym of p: "ps-" and 32 hex digits (128 bits of the HMAC).
func (k *Key) Of(p Personnummer) string {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte(p.digits))
	return "ps-" + hex.EncodeToString(m.Sum(nil)[:16])
}
