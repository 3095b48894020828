package pseudonym

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/fuzzcorpus"
)

func TestFuzzCorpus(t *testing.T) {
	fuzzcorpus.Check(t, "FuzzParse", map[string][]any{
		"long":         {"20120304-2385"},
		"long-nodash":  {"201203042385"},
		"short":        {"120304-2385"},
		"hundred":      {"121212+1212"},
		"samordning":   {"20120364-2382"},
		"spaces":       {"  19121212-1212\n"},
		"bad-check":    {"20120304-2384"},
		"future":       {"20991231-0000"},
		"feb-29":       {"20000229-0000"},
		"day-zero":     {"20120300-0000"},
		"two-dashes":   {"2012-03-04-2385"},
		"plus-12":      {"20120304+2385"},
		"plus-early":   {"12+0304-2385"},
		"unicode-digs": {"٢٠١٢٠٣٠٤-٢٣٨٥"},
		"empty":        {""},
	})
}

// Found by FuzzParse: separators anywhere were dropped, and a '+' anywhere
// moved the birth a century back.
func TestParseOnlyDocumentedForms(t *testing.T) {
	for _, s := range []string{"2012-03-04-2385", "20120304+2385", "12+0304-2385", "120304--2385", "-120304-2385"} {
		if p, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) = %s, want an error", s, p)
		}
	}
}

// documented is every form Parse documents: YYYYMMDD-NNNN, YYYYMMDDNNNN,
// YYMMDD-NNNN, YYMMDDNNNN and YYMMDD+NNNN.
var documented = regexp.MustCompile(`^(?:[0-9]{8}-?|[0-9]{6}[-+]?)[0-9]{4}$`)

// FuzzParse parses arbitrary personnummer texts. One that parses must be in
// a documented form, keep its digits, and give a number that parses to
// itself, born no later than today.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		in := strings.TrimSpace(s)
		if !documented.MatchString(in) {
			t.Fatalf("Parse(%q) accepts a form it does not document", s)
		}
		norm := p.String()
		digits := strings.NewReplacer("-", "", "+", "").Replace(in)
		if len(norm) != 13 || norm[8] != '-' || !strings.HasSuffix(norm[:8]+norm[9:], digits) {
			t.Fatalf("Parse(%q) = %q: the digits changed", s, norm)
		}
		b, err := time.Parse(time.DateOnly, p.BirthDate())
		if err != nil || b.After(time.Now()) {
			t.Fatalf("Parse(%q): birth date %q (%v)", s, p.BirthDate(), err)
		}
		p2, err := Parse(norm)
		if err != nil || p2 != p {
			t.Fatalf("Parse(%q) = %q, which parses to %v, %v", s, norm, p2, err)
		}
	})
}
