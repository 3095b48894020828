// Package bus names the broker's NATS subjects, JetStream streams and
// consumers, and the permissions an agency needs on them. Every component
// derives names from here, so the layout is defined once.
//
//	sekretess.in.<sender>        stream SEKRETESS_IN        envelopes waiting for a decision (work queue)
//	sekretess.out.<recipient>    stream SEKRETESS_OUT       delivered envelopes, consumer inbox-<recipient>
//	sekretess.receipt.<sender>   stream SEKRETESS_RECEIPTS  signed receipts, consumer receipts-<sender>
//	sekretess.audit.record.m.<message id>.d      stream SEKRETESS_AUDIT  the decision that holds a message id (its replay guard)
//	sekretess.audit.record.m.<message id>.<seq>  stream SEKRETESS_AUDIT  another record of that id: inbound message <seq> refused
//	sekretess.audit.record.n.<seq>               stream SEKRETESS_AUDIT  the record of inbound message <seq> without a message id
//	sekretess.audit.record       stream SEKRETESS_AUDIT     audit records written before records had subjects of their own; one stream, one log order (no delete, no purge)
//	sekretess.audit.state        stream SEKRETESS_AUDIT_STATE  the latest signed checkpoints with the tree's right edge (a broker starts from them)
//	sekretess.audit.checkpoint   stream SEKRETESS_AUDIT_CHECKPOINTS  signed checkpoints of the audit log
//	sekretess.audit.cosigned.<w> stream SEKRETESS_AUDIT_CHECKPOINTS  checkpoints cosigned by witness w
//	sekretess.auditkeys.<period>.<key id>  stream SEKRETESS_AUDIT_KEYS_<period>  wrapped data keys of the audit log's personal fields, one stream per period (deleted whole when shredded)
//	KV sekretess_audit_keys      the same, as stored before per-period streams (read, and shredded, for older periods)
//
// An agency may publish only on its own inbound subject, so the subject's last
// token names the publisher even when the envelope inside is unreadable.
package bus

import "strings"

// Streams.
const (
	StreamIn       = "SEKRETESS_IN"
	StreamOut      = "SEKRETESS_OUT"
	StreamReceipts = "SEKRETESS_RECEIPTS"
	// StreamAuditState keeps the audit log's latest snapshots.
	StreamAuditState = "SEKRETESS_AUDIT_STATE"
	// StreamAudit is the audit log: its sequence is the log's order.
	StreamAudit = "SEKRETESS_AUDIT"
	// StreamAuditCheckpoints holds the audit log's signed and cosigned checkpoints.
	StreamAuditCheckpoints = "SEKRETESS_AUDIT_CHECKPOINTS"
	// BucketAuditKeys held the audit log's wrapped data keys, one per broker
	// and retention period, before they moved to one stream per period
	// (AuditKeysStream); it is still read for the periods it holds.
	BucketAuditKeys = "sekretess_audit_keys"
	// AuditKeysStreamPrefix is followed by a retention period ("2026-11") to
	// name the stream of that period's wrapped data keys.
	AuditKeysStreamPrefix = "SEKRETESS_AUDIT_KEYS_"
	// AuditKeysPrefix is followed by "<period>.<key id>", the subject of one
	// wrapped data key.
	AuditKeysPrefix = "sekretess.auditkeys."
)

// AuditKeysStream names the stream of period's wrapped data keys.
func AuditKeysStream(period string) string { return AuditKeysStreamPrefix + period }

// AuditKey is the subject of the wrapped data key id of period.
func AuditKey(period, id string) string { return AuditKeysPrefix + period + "." + id }

// Audit subjects.
const (
	AuditRecord = "sekretess.audit.record"
	// AuditRecordPrefix is followed by a record's index key (see the
	// package comment): the audit stream's subjects are its indexes.
	AuditRecordPrefix = AuditRecord + "."
	// AuditState holds the audit log's snapshots (StreamAuditState).
	AuditState      = "sekretess.audit.state"
	AuditCheckpoint = "sekretess.audit.checkpoint"
	// AuditCosignedPrefix is followed by the witness's name.
	AuditCosignedPrefix = "sekretess.audit.cosigned."
)

// Subject prefixes and the broker's consumer.
const (
	InPrefix      = "sekretess.in."
	OutPrefix     = "sekretess.out."
	ReceiptPrefix = "sekretess.receipt."
	// BrokerConsumer is the durable pull consumer every broker replica shares;
	// JetStream hands each inbound message to one of them.
	BrokerConsumer = "broker"
)

// Headers on delivered messages and receipts.
const (
	// HeaderDecision holds the broker's decision record as compact JSON.
	HeaderDecision = "Sekretess-Decision"
	// HeaderSignature holds the broker's base64 ed25519 signature of HeaderDecision.
	HeaderSignature = "Sekretess-Decision-Signature"
)

// In returns the subject agency id publishes envelopes on.
func In(id string) string { return InPrefix + id }

// Out returns the subject of agency id's delivered messages.
func Out(id string) string { return OutPrefix + id }

// Receipt returns the subject of agency id's receipts.
func Receipt(id string) string { return ReceiptPrefix + id }

// InboxConsumer returns the durable consumer agency id reads deliveries from.
func InboxConsumer(id string) string { return "inbox-" + id }

// ReceiptConsumer returns the durable consumer agency id reads receipts from.
func ReceiptConsumer(id string) string { return "receipts-" + id }

// InboxPrefix returns the reply-subject prefix of agency id's connections, so
// that no agency can subscribe to another's replies.
func InboxPrefix(id string) string { return "_INBOX_" + id }

// SenderOf returns the agency token of an inbound subject.
func SenderOf(subject string) (string, bool) {
	id, ok := strings.CutPrefix(subject, InPrefix)
	return id, ok && id != "" && !strings.ContainsAny(id, ".*>")
}

// ConsentBucket is the key-value bucket of the consent registry (package
// consent); its keys are <agency-id>.<consent-id>, and
// <agency-id>.<consent-id>.withdrawn once a consent is withdrawn.
const ConsentBucket = "sekretess_consent"

// AgencyPermissions returns the subjects agency id may publish and subscribe
// to: its own inbound subject, the JetStream API calls for its two consumers,
// acks of their messages, writes and reads of its own consent records, and
// its private reply inbox.
func AgencyPermissions(id string) (publish, subscribe []string) {
	publish = []string{In(id),
		// The consent registry: only keys under the agency's own id. Reads use
		// direct get by subject, which names the key. No stream info or
		// message get by sequence: those would reveal other agencies' keys.
		"$KV." + ConsentBucket + "." + id + ".>",
		"$JS.API.DIRECT.GET.KV_" + ConsentBucket + ".$KV." + ConsentBucket + "." + id + ".>",
	}
	for _, c := range []struct{ stream, consumer string }{
		{StreamOut, InboxConsumer(id)},
		{StreamReceipts, ReceiptConsumer(id)},
	} {
		publish = append(publish,
			"$JS.API.CONSUMER.INFO."+c.stream+"."+c.consumer,
			"$JS.API.CONSUMER.MSG.NEXT."+c.stream+"."+c.consumer,
			"$JS.ACK."+c.stream+"."+c.consumer+".>",
		)
	}
	return publish, []string{InboxPrefix(id) + ".>"}
}

// AuditorInbox is the reply-subject prefix of auditors' connections.
const AuditorInbox = "_INBOX_auditor"

// AuditorPermissions returns the subjects an auditor may publish and
// subscribe to: reading the audit streams (stream info, message gets,
// ordered consumers) and the wrapped data keys, and publishing a witness's
// cosigned checkpoint, which carries the log's own signature and changes no
// record. No publish on the audit record or checkpoint subjects, no stream
// or consumer administration beyond the consumers it reads with, no delete,
// purge or update.
func AuditorPermissions() (publish, subscribe []string) {
	keys := "KV_" + BucketAuditKeys
	for _, s := range []string{StreamAudit, StreamAuditCheckpoints, keys} {
		publish = append(publish,
			"$JS.API.STREAM.INFO."+s,
			"$JS.API.STREAM.MSG.GET."+s,
			"$JS.API.DIRECT.GET."+s,
			"$JS.API.DIRECT.GET."+s+".>",
		)
	}
	// A period's key by its subject, from whichever stream holds it: only the
	// key streams have these subjects.
	publish = append(publish, "$JS.API.DIRECT.GET.*."+AuditKeysPrefix+">")
	for _, s := range []string{StreamAudit, StreamAuditCheckpoints} {
		publish = append(publish,
			"$JS.API.CONSUMER.CREATE."+s+".>",
			"$JS.API.CONSUMER.INFO."+s+".>",
			"$JS.API.CONSUMER.DELETE."+s+".>",
			"$JS.API.CONSUMER.MSG.NEXT."+s+".>",
		)
	}
	publish = append(publish, AuditCosignedPrefix+">")
	return publish, []string{AuditorInbox + ".>"}
}
