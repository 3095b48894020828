package agency

import (
	"fmt"
	"io"
	"strings"
)

// NoRuleAllows is the reason the policy adds to every denial that no rule
// allows; it sums up the others and is never decisive.
const NoRuleAllows = "no rule allows this message"

// Decisive splits the reasons of a denial, in the order the policy gives
// them (policies/README.md, "The decision"), into the decisive ones and the
// number of the rest. The decisive reasons are the generic ones at the start
// (problems with the input itself, which block every rule) and the reasons
// of the first rule after them: the rule the sender relies on
// (Claims.LegalBasisClaimed), or else the closest rule whose scope fits the
// message. The rest are other rules' reasons and NoRuleAllows.
//
// A receipt refused before any decision (a bad signature, a replay) carries
// no rule reasons: every reason is decisive.
func Decisive(reasons []string) (decisive []string, rest int) {
	rule := ""
	for _, r := range reasons {
		if r == NoRuleAllows {
			continue
		}
		id := ruleOf(r)
		if id == "" {
			// Generic reasons come before every rule's.
			if rule == "" {
				decisive = append(decisive, r)
			}
			continue
		}
		if rule == "" {
			rule = id
		}
		if id != rule {
			break
		}
		decisive = append(decisive, r)
	}
	if len(decisive) == 0 {
		return reasons, 0
	}
	return decisive, len(reasons) - len(decisive)
}

// ruleOf returns the rule id a reason is prefixed with ("R-1018A: ..."), or
// "" for a generic reason.
func ruleOf(r string) string {
	id, _, ok := strings.Cut(r, ": ")
	if !ok || !strings.HasPrefix(id, "R-") || strings.ContainsAny(id, " \t") {
		return ""
	}
	return id
}

// BasisHelp is the help text of the clients' --basis flag.
const BasisHelp = "the rule you rely on, e.g. R-1018A, R-CONSENT or R-LUB-OWN (claims.legal_basis_claimed, see policies/README.md); if the broker refuses, that rule's reasons come first"

// AllHelp is the help text of the clients' --all flag.
const AllHelp = "if the broker refuses, print every reason, not only the decisive ones"

// CheckBasis reports whether id has the form of a rule id (R- and capital
// letters, digits and dashes). Whether the policy knows the rule is the
// broker's decision: an unknown rule is a denial that says so.
func CheckBasis(id string) error {
	rest, ok := strings.CutPrefix(id, "R-")
	if !ok || rest == "" || strings.Trim(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
		return fmt.Errorf("--basis %q is not a rule id such as R-1018A or R-CONSENT (see policies/README.md)", id)
	}
	return nil
}

// MoreReasons is the line that counts the reasons Decisive left out.
func MoreReasons(n int) string {
	if n == 1 {
		return "… and 1 more reason; --all shows it"
	}
	return fmt.Sprintf("… and %d more reasons; --all shows them", n)
}

// WriteReasons writes the reasons of a denial to w, one a line after
// indent: the decisive ones and a line counting the rest (MoreReasons), or
// every one when all is set (the clients' --all).
func WriteReasons(w io.Writer, indent string, reasons []string, all bool) {
	shown, rest := reasons, 0
	if !all {
		shown, rest = Decisive(reasons)
	}
	for _, r := range shown {
		fmt.Fprintf(w, "%s- %s\n", indent, r)
	}
	if rest > 0 {
		fmt.Fprintf(w, "%s%s\n", indent, MoreReasons(rest))
	}
}
