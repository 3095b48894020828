package webdesk

import (
	"strings"
	"testing"
)

// Obligations the policy words with details after a fixed beginning are
// explained by that beginning; an unknown one is shown as it is.
func TestObligationWords(t *testing.T) {
	for _, tc := range []struct{ obligation, short, has string }{
		{"secret at the reporter: OSL 40 kap. 7 g §", "Sekretess hos anmälaren", "OSL 40 kap. 7 g §"},
		{"feedback deadline: at once, an investigation is already under way (SoL (2025:400) 19 kap. 6 § andra stycket)",
			"Tidsfrist för återkoppling", "en vecka"},
		{"status-only", "Endast status", "SoL (2025:400) 19 kap. 6 §"},
		{"something new", "something new", "something new"},
	} {
		if got := word(obligationShort, tc.obligation); got != tc.short {
			t.Errorf("short word of %q = %q, want %q", tc.obligation, got, tc.short)
		}
		if got := word(obligationWords, tc.obligation); !strings.Contains(got, tc.has) {
			t.Errorf("words of %q = %q, want them to name %q", tc.obligation, got, tc.has)
		}
	}
}
