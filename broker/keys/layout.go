package keys

// File names of one party's keys inside its key directory: the broker's in
// <data>/broker/, an agency's in its home (see package layout).
const (
	SigningKeyFile = "signing.key"
	AgeKeyFile     = "age.key"
	NKeyFile       = "nats.nk"
	// PseudonymKeyFile is an agency's copy of the deployment's pseudonym
	// secret; the broker never reads it.
	PseudonymKeyFile = "pseudonym.key"
)

// Audit key files in the broker's key directory, and the auditors' age
// recipients the audit log's personal fields are sealed to.
const (
	AuditKeyFile       = "audit.key"
	AuditPublicKeyFile = "audit.pub"
	AuditorsFile       = "auditors.txt"
	// AuditorNKeyFile is the NATS seed of the auditor user "brokerctl init"
	// makes (directory.Auditor): it may read the audit log and nothing
	// else. The "brokerctl audit" commands log in with it by default.
	AuditorNKeyFile = "auditor-nats.nk"
)
