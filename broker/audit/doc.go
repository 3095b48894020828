// Package audit is the broker's tamper-evident, replicated audit log: one
// record per decision, which an outside auditor can verify without trusting
// the broker's operator.
//
// Storage. Records are messages on the JetStream stream SEKRETESS_AUDIT (file
// storage, no delete, no purge, no age limit, R3 on a cluster). The stream's
// sequence is the log's order, so several brokers may append at once and
// still produce one log. Append returns after the stream's PubAck; the broker
// acknowledges an inbound message only after that.
//
// Dedupe. A record's Nats-Msg-Id is "inbound-<seq>-<envelope hash prefix>",
// the inbound message's stream sequence and its bytes (so a recreated inbound
// stream never maps a new message onto an old decision): a redelivered
// message is the same decision and the stream
// drops the second record, answering with the first one's sequence, whose
// decision Append returns. A replayed envelope reuses a message id but is a
// new inbound message, so it gets its own record (a rejection).
//
// Index. A record's subject is its index key (index.go): the message id
// whose decision it is (sekretess.audit.record.m.<id>.d), or the inbound
// message it refused (m.<id>.<seq>, n.<seq> without an id). BySeq, ByMessage
// and Lookup are direct gets by subject, answered by the stream's own
// subject index, so a broker holds no index and never reads the log to
// build one. A decision is stored on its id's subject only if that subject
// holds none of the broker's (Nats-Expected-Last-Subject-Sequence): one id,
// one decision, for good, which makes the log the broker's replay guard.
// Each record's index key also travels in its Sekretess-Index header.
// Records written before records had subjects of their own are on the bare
// subject sekretess.audit.record and are indexed in memory at open, as
// before; there are no more of them.
//
// Open in constant time. The Log keeps the Merkle tree as its right edge
// (the O(log n) hashes of its complete subtrees, frontier.go), and stores it
// with every checkpoint it signs in SEKRETESS_AUDIT_STATE. Open takes the
// latest one whose checkpoint verifies with the log's keys and whose edge
// hashes to the checkpoint's root, then follows the stream from the record
// after it, so it reads only the records appended since the last checkpoint
// (see BenchmarkOpen). Open returns once everything stored before it has
// been read. Verify still reads every record from the first.
//
// Signatures. Every record ends with broker_sig, the broker's ed25519
// signature with its audit key over the record before that field (see
// recordsig.go), so a record published on the audit subject by anyone else
// is told apart. A lookup (BySeq, ByMessage, a duplicate's answer) checks
// the signature of every record it reads and passes over, and logs, any the
// broker did not write: the broker never acts on one. (The follower does not
// check signatures; a lookup reads past records someone else wrote on a
// subject, and an append goes after them.)
// Unsigned records before the first sequence the
// broker signed (the stream's metadata "sekretess_signed_from") were written
// before records were signed and are trusted as before.
// CheckRecordSignatures names every other unsigned or mis-signed record.
//
// Tree and checkpoints. The Merkle tree over the records' exact bytes uses
// RFC 6962 hashing (golang.org/x/mod/sumdb/tlog); a leaf is the record's
// bytes as stored, its signature included. Each Log signs a checkpoint
// (origin, size, root hash, time; a C2SP signed note, golang.org/x/mod/sumdb/note,
// ed25519 with the broker's audit key) at a fixed interval when the log grew,
// and on Close, to SEKRETESS_AUDIT_CHECKPOINTS. Inclusion proofs (Prove,
// CheckProof) and consistency proofs (ConsistencyProof) verify with the
// public key alone.
//
// Key rotation. Every generation of the audit key has the log's name and
// differs in its key hash; the broker keeps every public key it has had in a
// history file (keys.AuditKeyHistoryFile). Verification takes the history as
// a note.Verifiers, so checkpoints signed before a rotation stay verifiable
// offline, and a checkpoint signed by a key outside it is refused. A witness
// accepts only the keys its operator gave it: after a rotation it is given
// the new public key or the history, and keeps checking consistency with
// what it signed under the old key.
//
// Witnesses. A Witness cosigns checkpoints (C2SP tlog-cosignature/v1) and
// keeps the last one it signed; it refuses a checkpoint that is not an
// extension of it (checked with a consistency proof), so the operator cannot
// fork or rewrite history without every witness noticing.
//
// Privacy and retention. A record holds decision metadata only: ids, times,
// parties, kind, rule, basis, reasons, hashes of the envelope and of the policy
// input — never the payload. The personal fields (the subject's pseudonym, the
// purpose, the sender's role and the human assessments in the claims, and for
// a reply or forward that names no subject the message it is about) are
// sealed with AES-256-GCM under a
// data key per broker and calendar month, itself wrapped with age to the
// auditors and kept in a stream of the period's own,
// SEKRETESS_AUDIT_KEYS_<period> (keystore.go). Shred destroys the keys of
// past periods: their personal fields become unreadable, while the sealed
// bytes stay in the leaves, so every hash, checkpoint and proof still
// verifies. It deletes each period's key stream whole, which removes every
// stored copy even on an encrypted store (see shred.go for the key bucket of
// older deployments), refuses the current period and later ones, whose keys
// still seal records, and records each key it destroys as a signed key
// event record before destroying it.
//
// Auditors. The audit commands read the log as an auditor NATS user
// (directory.Auditor, bus.AuditorPermissions), which may read the streams
// and the wrapped keys and never write a record or change a stream.
//
// Verification. Verify recomputes the tree from the stream (ReadStream) or an
// export file (ReadExport), checks every checkpoint's signature and that each
// matches the tree at its size, and names the position of the first bad
// record. An export file also carries each record's leaf hash and a trailer,
// so that a changed byte, a removed, inserted or moved record and a cut-off
// file are pinned to a record; a consistent rewrite of records and leaves is
// caught by the checkpoints, and a log cut short together with its
// checkpoints by the witnesses' last cosigned checkpoint.
package audit
