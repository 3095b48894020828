package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/nats-io/nkeys"

	"github.com/sekretessbroker/sekretessbroker/broker/safefile"
)

// maxKeyFileSize bounds how much of a key file is read. Real key files are
// at most a few KiB; anything larger is not a key file.
const maxKeyFileSize = 64 << 10

const signingPublicKeyPrefix = "ed25519:"

// WriteSigningKey writes priv to a new file at path as a PKCS#8 PEM block of
// type "PRIVATE KEY", with mode 0600. It fails if path already exists.
func WriteSigningKey(path string, priv ed25519.PrivateKey) error {
	if len(priv) != ed25519.PrivateKeySize {
		return fmt.Errorf("keys: ed25519 private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("keys: encoding signing key: %v", err)
	}
	return writeNew(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// LoadSigningKey reads an ed25519 private key written by WriteSigningKey (or
// by "openssl genpkey -algorithm ed25519").
func LoadSigningKey(path string) (ed25519.PrivateKey, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("keys: %s: no PEM block found; expected a PKCS#8 \"PRIVATE KEY\"", path)
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("keys: %s: PEM block is %q, want \"PRIVATE KEY\" (PKCS#8)", path, block.Type)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("keys: %s: unexpected data after the PEM block; a key file holds exactly one key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("keys: %s: invalid PKCS#8 key: %v", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("keys: %s: key is %T, want an ed25519 key", path, k)
	}
	return priv, nil
}

// FormatSigningPublicKey returns the text form of pub: "ed25519:" followed by
// the standard, padded base64 encoding of the 32 key bytes.
func FormatSigningPublicKey(pub ed25519.PublicKey) string {
	return signingPublicKeyPrefix + base64.StdEncoding.EncodeToString(pub)
}

// ParseSigningPublicKey parses the output of FormatSigningPublicKey. It accepts
// only the canonical encoding, so that each key has exactly one text form and
// can be compared as a string.
func ParseSigningPublicKey(s string) (ed25519.PublicKey, error) {
	b64, ok := strings.CutPrefix(s, signingPublicKeyPrefix)
	if !ok {
		return nil, fmt.Errorf("keys: signing public key %q does not start with %q", abbrev(s), signingPublicKeyPrefix)
	}
	// The length check also rejects the newlines that base64 decoding would
	// otherwise silently skip.
	if len(b64) != base64.StdEncoding.EncodedLen(ed25519.PublicKeySize) {
		return nil, fmt.Errorf("keys: signing public key %q: want %d base64 characters after %q, got %d",
			abbrev(s), base64.StdEncoding.EncodedLen(ed25519.PublicKeySize), signingPublicKeyPrefix, len(b64))
	}
	pub, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("keys: signing public key %q: invalid base64: %v", abbrev(s), err)
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("keys: signing public key %q is %d bytes, want %d", abbrev(s), len(pub), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(pub), nil
}

// WriteAgeIdentity generates a new age identity and writes it to a new file at
// path in the format of age-keygen, with mode 0600. It fails if path already
// exists. It returns the matching recipient string, to be published in the
// directory.
//
// hybrid selects a post-quantum hybrid ML-KEM-768 + X25519 identity
// (recipient "age1pq1…"); it should be true unless a peer cannot handle
// hybrid recipients. Otherwise the identity is classic X25519 ("age1…").
func WriteAgeIdentity(path string, hybrid bool) (recipient string, err error) {
	var secret string
	if hybrid {
		id, err := age.GenerateHybridIdentity()
		if err != nil {
			return "", fmt.Errorf("keys: generating hybrid age identity: %v", err)
		}
		secret, recipient = id.String(), id.Recipient().String()
	} else {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			return "", fmt.Errorf("keys: generating X25519 age identity: %v", err)
		}
		secret, recipient = id.String(), id.Recipient().String()
	}
	data := fmt.Sprintf("# created: %s\n# public key: %s\n%s\n",
		time.Now().Format(time.RFC3339), recipient, secret)
	if err := writeNew(path, []byte(data)); err != nil {
		return "", err
	}
	return recipient, nil
}

// LoadAgeIdentity reads an age identity file, such as one written by
// WriteAgeIdentity or age-keygen. The file must hold exactly one identity, so
// that it is always clear which key an agency decrypts with.
func LoadAgeIdentity(path string) (age.Identity, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	ids, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("keys: %s: %v", path, err)
	}
	if len(ids) != 1 {
		return nil, fmt.Errorf("keys: %s: holds %d age identities, want exactly 1", path, len(ids))
	}
	return ids[0], nil
}

// ParseAgeRecipient parses a single age recipient: X25519 ("age1…") or
// hybrid post-quantum ("age1pq1…").
func ParseAgeRecipient(s string) (age.Recipient, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("keys: age recipient %q contains a line break; pass exactly one recipient", abbrev(s))
	}
	rs, err := age.ParseRecipients(strings.NewReader(s))
	if err != nil {
		return nil, fmt.Errorf("keys: age recipient %q: %v", abbrev(s), err)
	}
	if len(rs) != 1 {
		return nil, fmt.Errorf("keys: %q is not an age recipient; want \"age1…\" or \"age1pq1…\"", abbrev(s))
	}
	return rs[0], nil
}

// WriteNKeySeed generates a new NATS user nkey and writes its seed ("SU…") to
// a new file at path, with mode 0600. It fails if path already exists. It
// returns the public user key ("U…"), to be configured on the NATS server.
func WriteNKeySeed(path string) (publicKey string, err error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return "", fmt.Errorf("keys: generating nkey: %v", err)
	}
	defer kp.Wipe()
	seed, err := kp.Seed()
	if err != nil {
		return "", fmt.Errorf("keys: generating nkey: %v", err)
	}
	publicKey, err = kp.PublicKey()
	if err != nil {
		return "", fmt.Errorf("keys: generating nkey: %v", err)
	}
	if err := writeNew(path, append(seed, '\n')); err != nil {
		return "", err
	}
	return publicKey, nil
}

// LoadNKeySeed reads a NATS user seed file written by WriteNKeySeed (or by
// "nk -gen user"). It returns the seed, as accepted by nats.go's nkey
// options, and its public user key ("U…").
func LoadNKeySeed(path string) (seed []byte, publicKey string, err error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, "", err
	}
	seed = bytes.TrimSpace(data)
	prefix, _, err := nkeys.DecodeSeed(seed)
	if err != nil {
		return nil, "", fmt.Errorf("keys: %s: not an nkey seed: %v", path, err)
	}
	if prefix != nkeys.PrefixByteUser {
		return nil, "", fmt.Errorf("keys: %s: nkey seed is not a user seed (want \"SU…\")", path)
	}
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		return nil, "", fmt.Errorf("keys: %s: not an nkey seed: %v", path, err)
	}
	defer kp.Wipe()
	publicKey, err = kp.PublicKey()
	if err != nil {
		return nil, "", fmt.Errorf("keys: %s: %v", path, err)
	}
	return bytes.Clone(seed), publicKey, nil
}

// writeNew writes data to a new file at path with mode 0600, creating parent
// directories with mode 0700. The file appears complete or not at all, and
// never replaces an existing one, even when two processes race to write it.
func writeNew(path string, data []byte) error {
	err := safefile.Create(path, data, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("keys: %s already exists; refusing to overwrite a key file (move it away first if you really mean to replace it): %w", path, fs.ErrExist)
	}
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	return nil
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("keys: reading %s: %v", path, err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("keys: %s is larger than %d bytes; it is not a key file", path, maxKeyFileSize)
	}
	return data, nil
}

// abbrev shortens s for error messages: input may be long or hostile.
func abbrev(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
