package keys

// File names of one party's keys inside its key directory: the broker's in
// <data>/broker/, an agency's in <data>/agencies/<id>/.
const (
	SigningKeyFile = "signing.key"
	AgeKeyFile     = "age.key"
	NKeyFile       = "nats.nk"
)
