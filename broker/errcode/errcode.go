// Package errcode holds the error codes the broker writes into receipts and
// audit records (decision.Record.ErrorCode). A code says why a message was
// refused before, or instead of, a policy decision; a plain policy denial has
// no code.
//
// The codes are part of the protocol: once published they never change, so
// senders, auditors and dashboards may match on them. The package imports
// nothing, so that agency clients can use it cheaply.
//
// What a code means for the sender. "later": the message may go through when
// sent again once the broker recovers; "no": sending it again gets the same
// answer until the cause is fixed. A message sent again is always sealed anew
// (a new id): the broker refuses an envelope it has seen as a replay.
//
//	code                 retry  what to do
//	too_large            no     send a smaller message
//	malformed            no     the envelope is broken; fix the sending program
//	truncated            no     the envelope was cut off; seal and send it again
//	trailing_data        no     bytes follow the signature; fix the sending program
//	unknown_version      no     upgrade the sending program or the broker
//	bad_signature        no     the signing key does not match the directory; fix the keys
//	clock_skew           no     correct the sender's clock, then seal the message anew
//	wrong_key            no     not encrypted to the broker's key; get the current directory
//	revoked_key          no     the signing key was revoked; enrol a new key (brokerctl agency rotate)
//	unknown_sender       no     the sender is not in the directory; ask the operator
//	unknown_recipient    no     the recipient is not in the directory; check the id
//	sender_mismatch      no     the envelope names another sender than the publisher
//	replay               no     the id was used before; a new message needs a new id
//	                            (if the reasons say the guard was unavailable: later)
//	bad_metadata         no     the policy metadata is not a JSON object, or
//	                            claims.forwarded_from is not a list of message ids
//	policy_error         later  the policy could not be evaluated; the operator must fix it
//	consent_unavailable  later  the consent registry could not be read
//	audit_unavailable    later  an earlier message's audit record could not be read
//	rate_limited         later  the agency sent too much too fast; send it again, as a new
//	                            message, after the time the reasons give
//	internal             no     a bug or misuse; report it with the receipt's reasons
//
// Every receipt also carries human-readable reasons; the code is for programs.
package errcode

// Codes for envelopes that cannot be read or trusted (see package envelope).
const (
	// TooLarge: the envelope, or one of its sections, is over the size limit.
	TooLarge = "too_large"
	// Malformed: bad magic, bad length, invalid header or corrupt age ciphertext.
	Malformed = "malformed"
	// Truncated: the input ends before the envelope does.
	Truncated = "truncated"
	// TrailingData: bytes follow the signature.
	TrailingData = "trailing_data"
	// UnknownVersion: the version byte is not one this broker reads.
	UnknownVersion = "unknown_version"
	// BadSignature: the signature does not verify with the sender's key from
	// the directory, or the contents were opened before verifying.
	BadSignature = "bad_signature"
	// ClockSkew: created_at lies too far from when the broker accepted the
	// envelope.
	ClockSkew = "clock_skew"
	// WrongKey: a ciphertext is not encrypted to the broker's age identity.
	WrongKey = "wrong_key"
	// RevokedKey: the envelope was signed with a key of the sender that was
	// revoked at or before the time the broker accepted it.
	RevokedKey = "revoked_key"
)

// Codes for envelopes the pipeline refuses before the policy decides.
const (
	// UnknownSender: the envelope's sender is not in the agency directory.
	UnknownSender = "unknown_sender"
	// UnknownRecipient: the envelope's recipient is not in the agency directory.
	UnknownRecipient = "unknown_recipient"
	// SenderMismatch: the envelope names a sender other than the agency that
	// published it.
	SenderMismatch = "sender_mismatch"
	// Replay: the message id was used by another message, or the replay
	// guard could not be read (the reasons say which).
	Replay = "replay"
	// BadMetadata: the policy metadata is not a JSON object, or one of its
	// fields the broker reads itself (forwarded_from) is invalid.
	BadMetadata = "bad_metadata"
	// PolicyError: the policy could not decide the message, which was held
	// undecided for the broker's policy patience (--policy-patience) and
	// then denied (fail closed). Send it again once the policy is fixed.
	PolicyError = "policy_error"
	// ConsentUnavailable: the consent record a message cites could not be read.
	ConsentUnavailable = "consent_unavailable"
	// AuditUnavailable: the audit record of a message this one replies to or
	// forwards could not be read.
	AuditUnavailable = "audit_unavailable"
	// RateLimited: the sender agency sent more messages than its rate limit
	// allows. The message was refused for good, without a decision; its
	// receipt says when to send it again, as a new message.
	RateLimited = "rate_limited"
)

// Internal is any other failure: a bug or a misuse of an API.
const Internal = "internal"
