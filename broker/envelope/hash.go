package envelope

import (
	"crypto/sha256"
	"encoding/hex"
)

// Hash returns the SHA-256 of a whole envelope's bytes, in lowercase hex: the
// value the broker's decision names as envelope_sha256. It ties a decision to
// the exact envelope it was made for, so a recipient can accept a delivery on
// the broker's word and a resend can be told from a replay.
func Hash(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}
