// Package envelope implements versions 2 and 1 of the sekretessbroker wire
// format.
//
// An envelope carries one message from a sender agency to a recipient agency
// through the broker. It has a cleartext header (who, to whom, what kind,
// when), policy metadata encrypted to the broker, a payload encrypted only to
// the recipient, and the sender's ed25519 signature over all of it.
//
// The broker can read the header and metadata to decide whether the message
// is allowed, but it cannot read the payload. See README.md for the format
// byte by byte.
//
// The receiving side calls, in order:
//
//	e, err := envelope.Parse(b, 0)               // structure only
//	pub := directory lookup of e.Header.From     // the sender's key e.Header.Kid
//	err = e.Verify(pub)                          // authenticity
//	err = e.CheckTime(time.Now(), skew)          // freshness
//	meta, err := e.OpenMeta(brokerIdentity)      // or OpenPayload
//
// OpenMeta and OpenPayload refuse to run before Verify has succeeded, because
// anyone can encrypt to a public age recipient: only the signature says who
// sent the contents.
package envelope
