package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestDemo runs the three scenarios through a real broker with the officials'
// clients; run itself fails on any decision other than the law's.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, "../../policies"); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{
		"rule R-CONCERN", "rule R-FEEDBACK", "status-only", "secret at the reporter: OSL 40 kap. 7 g §",
		"R-FEEDBACK: inappropriate: the guardian has not yet been told",
		"rule R-CONSENT", "WITHDRAWN (återkallat)", "R-CONSENT: consent was withdrawn at",
		"rule R-LUB-REQUEST", "R-LUB-REQUEST: category health is not data held in the rector's activity", "rule R-LUB-CONTACT", "secrecy travels with data",
		"R-LUB-OWN: interest assessment (claims.interest_assessment) is missing", "rule R-LUB-OWN",
		"rule R-CONFISCATION", "R-1018A: condition (2) not inappropriate", "rule R-1018A", "signed checkpoints",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the demo's output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(out.String())
	}
}
