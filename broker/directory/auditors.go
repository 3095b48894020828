package directory

import (
	"fmt"

	"github.com/nats-io/nkeys"
)

// Auditor is a NATS user that may read the audit log and nothing else: the
// audit streams, their checkpoints and the wrapped data keys, never a write
// to the log or a change of its streams (see bus.AuditorPermissions).
// "brokerctl init" makes one, named "auditor"; every "brokerctl audit"
// command but shred logs in with it.
type Auditor struct {
	// Name says whose it is (an agency's data protection officer, a
	// supervisory authority); it names the user in security events.
	Name string `json:"name"`
	// NKey is the auditor's NATS user public key ("U…").
	NKey string `json:"nkey"`
}

func validateAuditors(list []Auditor) error {
	names := make(map[string]bool, len(list))
	for i, a := range list {
		if !ValidID(a.Name) {
			return fmt.Errorf("auditor %d: name %q: use 2-63 characters of a-z, 0-9 and '-'", i+1, a.Name)
		}
		if names[a.Name] {
			return fmt.Errorf("auditor %s appears twice", a.Name)
		}
		names[a.Name] = true
		if !nkeys.IsValidPublicUserKey(a.NKey) {
			return fmt.Errorf("auditor %s: nkey %q is not a NATS user public key (\"U…\")", a.Name, a.NKey)
		}
	}
	return nil
}
