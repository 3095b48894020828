// Package keys reads and writes the key files of the broker and of the
// agencies connected to it.
//
// There are four kinds of key, each in the format its own ecosystem expects
// so that standard tools can inspect them:
//
//   - ed25519 signing keys, as PKCS#8 PEM ("PRIVATE KEY"), which sign
//     envelopes; public keys travel as "ed25519:" followed by standard
//     base64 of the 32 key bytes;
//   - age identities, in the file format written by age-keygen, which
//     decrypt envelope contents; recipients are ordinary "age1…" (X25519)
//     or "age1pq1…" (hybrid ML-KEM-768 + X25519) strings;
//   - NATS user nkey seeds, which authenticate the connection to the bus;
//   - the deployment's pseudonym secret, shared by the agencies and never
//     read by the broker, as "SEKRETESS-PSEUDONYM-KEY-" and 64 hex digits.
//
// Every Write function creates the file with mode 0600 through package
// safefile, so that it appears complete or not at all, and refuses to
// replace an existing file: losing a private key by overwriting it would
// make stored messages unreadable or break an agency's identity, so
// replacing a key must always be a deliberate step outside this package.
// Missing parent directories are created with mode 0700.
package keys
