package agency

import (
	"slices"
	"testing"
)

func TestDecisive(t *testing.T) {
	for _, tc := range []struct {
		name     string
		reasons  []string
		decisive []string
		rest     int
	}{
		{
			name: "claimed rule first",
			reasons: []string{
				"R-1018A: subject is 21 or older",
				"R-1018A: the assessment of the three conditions is missing (claims.conditions_1018a)",
				"R-CONSENT: no consent record resolved by the broker for this message (input.consent)",
				"R-CONCERN: message kind is not concern_report",
				NoRuleAllows,
			},
			decisive: []string{
				"R-1018A: subject is 21 or older",
				"R-1018A: the assessment of the three conditions is missing (claims.conditions_1018a)",
			},
			rest: 3,
		},
		{
			name: "input problems and the first rule",
			reasons: []string{
				"message.id is not 32 lowercase hex digits",
				"unknown sender kind insurance_company",
				"R-CONSENT: no consent record resolved by the broker for this message (input.consent)",
				"R-GENERAL: never for health secrecy",
				NoRuleAllows,
			},
			decisive: []string{
				"message.id is not 32 lowercase hex digits",
				"unknown sender kind insurance_company",
				"R-CONSENT: no consent record resolved by the broker for this message (input.consent)",
			},
			rest: 2,
		},
		{
			name:     "refused before any decision",
			reasons:  []string{"recipient \"x\" is not in the agency directory"},
			decisive: []string{"recipient \"x\" is not in the agency directory"},
		},
		{
			name:     "only the summary",
			reasons:  []string{NoRuleAllows},
			decisive: []string{NoRuleAllows},
		},
		{
			name:     "a colon in a generic reason is no rule",
			reasons:  []string{"secrecy travels with data: message 1 was received under R-FU", "R-FU: x", NoRuleAllows},
			decisive: []string{"secrecy travels with data: message 1 was received under R-FU", "R-FU: x"},
			rest:     1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, rest := Decisive(tc.reasons)
			if !slices.Equal(d, tc.decisive) || rest != tc.rest {
				t.Fatalf("Decisive = %q, %d; want %q, %d", d, rest, tc.decisive, tc.rest)
			}
		})
	}
}

func TestCheckBasis(t *testing.T) {
	for _, ok := range []string{"R-1018A", "R-CONSENT", "R-LUB-OWN", "R-SCHOOL-CRIME-REPORT"} {
		if err := CheckBasis(ok); err != nil {
			t.Errorf("CheckBasis(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "R-", "1018A", "r-1018a", "R-1018A; drop", "R-CONSENT\n"} {
		if err := CheckBasis(bad); err == nil {
			t.Errorf("CheckBasis(%q) accepted it", bad)
		}
	}
}

func TestMoreReasons(t *testing.T) {
	if got := MoreReasons(1); got != "… and 1 more reason; --all shows it" {
		t.Errorf("MoreReasons(1) = %q", got)
	}
	if got := MoreReasons(26); got != "… and 26 more reasons; --all shows them" {
		t.Errorf("MoreReasons(26) = %q", got)
	}
}
