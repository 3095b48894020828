package errcode_test

import (
	"testing"

	"github.com/sekretessbroker/sekretessbroker/broker/errcode"
)

// TestCodesAreStable pins every code to its published spelling: receipts
// and audit records already carry them, so a rename breaks the protocol.
// (Two constants with one spelling would not compile as map keys.)
func TestCodesAreStable(t *testing.T) {
	codes := map[string]string{
		errcode.TooLarge:           "too_large",
		errcode.Malformed:          "malformed",
		errcode.Truncated:          "truncated",
		errcode.TrailingData:       "trailing_data",
		errcode.UnknownVersion:     "unknown_version",
		errcode.BadSignature:       "bad_signature",
		errcode.ClockSkew:          "clock_skew",
		errcode.WrongKey:           "wrong_key",
		errcode.UnknownSender:      "unknown_sender",
		errcode.UnknownRecipient:   "unknown_recipient",
		errcode.SenderMismatch:     "sender_mismatch",
		errcode.Replay:             "replay",
		errcode.BadMetadata:        "bad_metadata",
		errcode.PolicyError:        "policy_error",
		errcode.ConsentUnavailable: "consent_unavailable",
		errcode.AuditUnavailable:   "audit_unavailable",
		errcode.RateLimited:        "rate_limited",
		errcode.RevokedKey:         "revoked_key",
		errcode.Internal:           "internal",
	}
	for got, want := range codes {
		if got != want {
			t.Errorf("code %q, want %q", got, want)
		}
	}
}
