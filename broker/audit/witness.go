package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/sekretessbroker/sekretessbroker/broker/safefile"
)

// Witness cosignatures follow C2SP tlog-cosignature: algorithm byte 0x04, the
// signed message is "cosignature/v1\ntime <unix seconds>\n" followed by the
// checkpoint body, and the signature is the 8-byte big-endian time followed by
// the ed25519 signature.
const algCosignatureV1 = 0x04

// ErrInconsistent is returned by a witness asked to sign a checkpoint that
// does not extend the last one it signed.
var ErrInconsistent = errors.New("audit: checkpoint is inconsistent with the one this witness signed before")

// ErrStale is returned by a witness asked to sign a checkpoint smaller than
// the last one it signed.
var ErrStale = errors.New("audit: checkpoint is older than the one this witness signed before")

func cosignKeyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write([]byte{algCosignatureV1})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

func cosignMessage(ts uint64, body []byte) []byte {
	return append([]byte("cosignature/v1\ntime "+strconv.FormatUint(ts, 10)+"\n"), body...)
}

// GenerateWitnessKey returns a new witness key pair as note-style strings:
// "PRIVATE+KEY+<name>+<hash>+<base64>" and "<name>+<hash>+<base64>".
func GenerateWitnessKey(name string) (skey, vkey string, err error) {
	if !validWitnessName(name) || strings.Contains(name, "+") {
		return "", "", fmt.Errorf("audit: witness name %q: no '+' or spaces", name)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("audit: witness key: %w", err)
	}
	h := fmt.Sprintf("%08x", cosignKeyHash(name, pub))
	skey = "PRIVATE+KEY+" + name + "+" + h + "+" + base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, priv.Seed()...))
	vkey = name + "+" + h + "+" + base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, pub...))
	return skey, vkey, nil
}

func validWitnessName(name string) bool {
	return name != "" && utf8.ValidString(name) && !strings.ContainsFunc(name, unicode.IsSpace)
}

// parseKey parses a witness key in the form GenerateWitnessKey writes and
// checks its name and key hash, so that each key has exactly one text form.
func parseKey(s string, private bool) (name string, key []byte, err error) {
	s = strings.TrimSpace(s)
	if private {
		rest, ok := strings.CutPrefix(s, "PRIVATE+KEY+")
		if !ok {
			return "", nil, errors.New("audit: not a witness private key")
		}
		s = rest
	}
	// The base64 key may itself contain '+'.
	parts := strings.SplitN(s, "+", 3)
	if len(parts) != 3 {
		return "", nil, errors.New("audit: not a witness key")
	}
	name = parts[0]
	if !validWitnessName(name) {
		return "", nil, errors.New("audit: witness key: the name must be non-empty, without spaces")
	}
	// Even the strict decoder skips line breaks, which would give one key
	// several texts.
	b, err := base64.StdEncoding.Strict().DecodeString(parts[2])
	if err != nil || len(b) != 33 || b[0] != algCosignatureV1 || strings.ContainsAny(parts[2], "\r\n") {
		return "", nil, errors.New("audit: not a cosignature/v1 witness key")
	}
	key = b[1:]
	pub := ed25519.PublicKey(key)
	if private {
		pub = ed25519.NewKeyFromSeed(key).Public().(ed25519.PublicKey)
	}
	if parts[1] != fmt.Sprintf("%08x", cosignKeyHash(name, pub)) {
		return "", nil, errors.New("audit: witness key hash does not match the key")
	}
	return name, key, nil
}

// cosigner is a note.Signer making cosignature/v1 signatures.
type cosigner struct {
	name string
	priv ed25519.PrivateKey
	now  func() time.Time
}

func (c *cosigner) Name() string { return c.name }
func (c *cosigner) KeyHash() uint32 {
	return cosignKeyHash(c.name, c.priv.Public().(ed25519.PublicKey))
}
func (c *cosigner) Sign(msg []byte) ([]byte, error) {
	ts := uint64(c.now().Unix())
	sig := ed25519.Sign(c.priv, cosignMessage(ts, msg))
	return append(binary.BigEndian.AppendUint64(nil, ts), sig...), nil
}

// cosignVerifier is a note.Verifier of cosignature/v1 signatures.
type cosignVerifier struct {
	name string
	pub  ed25519.PublicKey
}

func (v *cosignVerifier) Name() string    { return v.name }
func (v *cosignVerifier) KeyHash() uint32 { return cosignKeyHash(v.name, v.pub) }
func (v *cosignVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(v.pub, cosignMessage(binary.BigEndian.Uint64(sig[:8]), msg), sig[8:])
}

// NewWitnessVerifier parses a witness's public key ("<name>+<hash>+<base64>").
func NewWitnessVerifier(vkey string) (note.Verifier, error) {
	name, pub, err := parseKey(vkey, false)
	if err != nil {
		return nil, err
	}
	return &cosignVerifier{name: name, pub: pub}, nil
}

// witnessState is the last checkpoint a witness signed.
type witnessState struct {
	Origin string    `json:"origin"`
	Size   int64     `json:"size"`
	Root   tlog.Hash `json:"root"`
}

// Witness cosigns the checkpoints of one log, remembering the last one it
// signed in a state file so that it never signs two views of history.
type Witness struct {
	signer  *cosigner
	state   string
	logKeys note.Verifiers
}

// NewWitness returns a witness with private key skey and state file state,
// for the log whose checkpoints verify with logKeys. The witness accepts a
// checkpoint signed by any of them: when the log's key is rotated, its
// operator gives the witness the new public key (or the log's key history
// file), and the witness goes on checking consistency with what it signed
// under the old key.
func NewWitness(skey, state string, logKeys note.Verifiers, now func() time.Time) (*Witness, error) {
	name, seed, err := parseKey(skey, true)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Witness{signer: &cosigner{name: name, priv: ed25519.NewKeyFromSeed(seed), now: now}, state: state, logKeys: logKeys}, nil
}

// Cosign checks that the signed checkpoint msg extends the last checkpoint
// this witness signed, using the consistency proof from that checkpoint's
// size to msg's, and returns msg with the witness's cosignature added.
func (w *Witness) Cosign(msg []byte, proof tlog.TreeProof) ([]byte, error) {
	c, n, err := OpenCheckpoint(msg, w.logKeys)
	if err != nil {
		return nil, err
	}
	var st witnessState
	b, err := os.ReadFile(w.state)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// First checkpoint: trust on first use.
	case err != nil:
		return nil, fmt.Errorf("audit: witness state: %w", err)
	default:
		if err := json.Unmarshal(b, &st); err != nil {
			return nil, fmt.Errorf("audit: witness state %s: %w", w.state, err)
		}
		if st.Origin != c.Origin {
			return nil, fmt.Errorf("audit: witness state is for log %q, not %q", st.Origin, c.Origin)
		}
		switch {
		case c.Size < st.Size:
			return nil, fmt.Errorf("%w: size %d, signed %d", ErrStale, c.Size, st.Size)
		case c.Size == st.Size && c.Root != st.Root:
			return nil, fmt.Errorf("%w: same size %d, different root hash", ErrInconsistent, c.Size)
		case c.Size > st.Size && st.Size > 0:
			if err := tlog.CheckTree(proof, c.Size, c.Root, st.Size, st.Root); err != nil {
				return nil, fmt.Errorf("%w: %d→%d: %v", ErrInconsistent, st.Size, c.Size, err)
			}
		}
	}
	out, err := note.Sign(n, w.signer)
	if err != nil {
		return nil, fmt.Errorf("audit: cosign: %w", err)
	}
	b, _ = json.Marshal(witnessState{Origin: c.Origin, Size: c.Size, Root: c.Root})
	// The state must be on disk before the cosignature leaves: a witness
	// that forgot what it signed could be made to sign a fork.
	if err := safefile.Write(w.state, b, 0o600); err != nil {
		return nil, fmt.Errorf("audit: witness state: %w", err)
	}
	return out, nil
}

// Name returns the witness's name.
func (w *Witness) Name() string { return w.signer.name }

// LastSize returns the size of the last checkpoint this witness signed, or 0.
func (w *Witness) LastSize() (int64, error) {
	b, err := os.ReadFile(w.state)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("audit: witness state: %w", err)
	}
	var st witnessState
	if err := json.Unmarshal(b, &st); err != nil {
		return 0, fmt.Errorf("audit: witness state %s: %w", w.state, err)
	}
	return st.Size, nil
}
