package pseudonym_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/clients/pseudonym"
)

func TestParse(t *testing.T) {
	for _, c := range []struct{ in, norm, birth string }{
		{"20120304-2385", "20120304-2385", "2012-03-04"},
		{"201203042385", "20120304-2385", "2012-03-04"},
		{"120304-2385", "20120304-2385", "2012-03-04"},
		{"19121212-1212", "19121212-1212", "1912-12-12"},
		{"121212+1212", "19121212-1212", "1912-12-12"},
		{"20120364-2382", "20120364-2382", "2012-03-04"}, // samordningsnummer
	} {
		p, err := pseudonym.Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if p.String() != c.norm || p.BirthDate() != c.birth {
			t.Errorf("Parse(%q) = %s born %s, want %s born %s", c.in, p, p.BirthDate(), c.norm, c.birth)
		}
	}
	for in, want := range map[string]string{
		"20120304-2386": "check digit",
		"20121304-2385": "not a date",
		"2012-0304":     "digits",
		"20120304-238x": "YYYYMMDD-NNNN",
	} {
		_, err := pseudonym.Parse(in)
		if !errors.Is(err, pseudonym.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error about %s", in, err, want)
		}
	}
}

func TestKey(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := pseudonym.WriteKey(a); err != nil {
		t.Fatal(err)
	}
	if err := pseudonym.WriteKey(a); err == nil {
		t.Fatal("WriteKey replaced an existing key")
	}
	if err := pseudonym.CopyKey(a, b); err != nil {
		t.Fatal(err)
	}
	ka, err := pseudonym.LoadKey(a)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := pseudonym.LoadKey(b)
	if err != nil {
		t.Fatal(err)
	}
	p1, _ := pseudonym.Parse("20120304-2385")
	p2, _ := pseudonym.Parse("120304-2385")
	p3, _ := pseudonym.Parse("19121212-1212")
	if ka.Of(p1) != kb.Of(p2) {
		t.Fatal("the same number under a copied key gives different pseudonyms")
	}
	if ka.Of(p1) == ka.Of(p3) {
		t.Fatal("two numbers give the same pseudonym")
	}
	if s := ka.Of(p1); !strings.HasPrefix(s, "ps-") || len(s) != 35 || strings.Contains(s, "2385") {
		t.Fatalf("pseudonym %q", s)
	}
	c := filepath.Join(dir, "c")
	if err := pseudonym.WriteKey(c); err != nil {
		t.Fatal(err)
	}
	kc, _ := pseudonym.LoadKey(c)
	if kc.Of(p1) == ka.Of(p1) {
		t.Fatal("another deployment's key gives the same pseudonym")
	}
}

// TestCenturyOfTwoDigitYear: written with a two-digit year, someone born on
// a day still to come this year, a hundred years ago, is 99, not unborn; a
// birth date in the future is refused.
func TestCenturyOfTwoDigitYear(t *testing.T) {
	now := time.Now()
	later := now.AddDate(0, 0, 1)
	if later.Year() != now.Year() {
		t.Skip("no day left this year")
	}
	nine := fmt.Sprintf("%02d%02d%02d238", now.Year()%100, int(later.Month()), later.Day())
	short := nine[:6] + "-" + nine[6:] + checkDigit(nine)
	p, err := pseudonym.Parse(short)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%04d-%02d-%02d", now.Year()-100, int(later.Month()), later.Day()); p.BirthDate() != want {
		t.Fatalf("Parse(%q) born %s, want %s", short, p.BirthDate(), want)
	}
	long := fmt.Sprintf("%04d", now.Year()) + nine[2:6] + "-" + nine[6:] + checkDigit(nine)
	if _, err := pseudonym.Parse(long); !errors.Is(err, pseudonym.ErrInvalid) || !strings.Contains(err.Error(), "future") {
		t.Fatalf("Parse(%q) of a birth date in the future: %v", long, err)
	}
}

// checkDigit is the Luhn check digit of nine digits.
func checkDigit(nine string) string {
	sum := 0
	for i, r := range nine {
		n := int(r - '0')
		if i%2 == 0 {
			if n *= 2; n > 9 {
				n -= 9
			}
		}
		sum += n
	}
	return fmt.Sprint((10 - sum%10) % 10)
}
