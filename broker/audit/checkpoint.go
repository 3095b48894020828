package audit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is a signed statement of the log's size and root hash at a time,
// in the C2SP tlog-checkpoint format: origin, size, base64 root hash, then
// one extension line with the time.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
	Time   time.Time
}

// Body returns the checkpoint's note text.
func (c Checkpoint) Body() string {
	return fmt.Sprintf("%s\n%d\n%s\ntime %s\n", c.Origin, c.Size, c.Root, c.Time.UTC().Format(time.RFC3339))
}

// ParseCheckpoint parses a checkpoint's note text. It accepts only the text
// Body writes, so that each checkpoint has exactly one signed form: no other
// extension lines, a size without sign or leading zeros, a UTC time in whole
// seconds.
func ParseCheckpoint(text string) (Checkpoint, error) {
	c, err := parseCheckpoint(text)
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Body() != text {
		return Checkpoint{}, errors.New("audit: checkpoint: not in the form this log signs (origin, size, root hash, time in UTC whole seconds, no other line)")
	}
	return c, nil
}

func parseCheckpoint(text string) (Checkpoint, error) {
	lines := strings.SplitAfter(text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return Checkpoint{}, errors.New("audit: checkpoint: want origin, size, root hash and time lines")
	}
	var c Checkpoint
	c.Origin = strings.TrimSuffix(lines[0], "\n")
	size, err := strconv.ParseInt(strings.TrimSuffix(lines[1], "\n"), 10, 64)
	if err != nil || size < 0 {
		return Checkpoint{}, fmt.Errorf("audit: checkpoint: bad size %q", lines[1])
	}
	c.Size = size
	if c.Root, err = tlog.ParseHash(strings.TrimSuffix(lines[2], "\n")); err != nil {
		return Checkpoint{}, fmt.Errorf("audit: checkpoint: root hash: %w", err)
	}
	for _, l := range lines[3 : len(lines)-1] {
		if ts, ok := strings.CutPrefix(strings.TrimSuffix(l, "\n"), "time "); ok {
			if c.Time, err = time.Parse(time.RFC3339, ts); err != nil {
				return Checkpoint{}, fmt.Errorf("audit: checkpoint: time: %w", err)
			}
		}
	}
	return c, nil
}

// SignCheckpoint signs c as a note; c.Origin should be the signer's name.
func SignCheckpoint(s note.Signer, c Checkpoint) ([]byte, error) {
	msg, err := note.Sign(&note.Note{Text: c.Body()}, s)
	if err != nil {
		return nil, fmt.Errorf("audit: sign checkpoint: %w", err)
	}
	return msg, nil
}

// OpenCheckpoint verifies a signed checkpoint with the log's keys and parses
// it. logKeys is the log's key history (every generation of its key has the
// log's name); note.VerifierList(v) makes it of one key. Signatures by other
// keys (witnesses) are kept in the returned note.
func OpenCheckpoint(msg []byte, logKeys note.Verifiers) (Checkpoint, *note.Note, error) {
	n, err := note.Open(msg, logKeys)
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("audit: checkpoint signature (a key not in the log's key history?): %w", err)
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	for _, sig := range n.Sigs {
		if sig.Name == c.Origin {
			return c, n, nil
		}
	}
	return Checkpoint{}, nil, fmt.Errorf("audit: checkpoint origin %q is not the name of the log key that signed it (%q)", c.Origin, n.Sigs[0].Name)
}

// ParseCheckpointNote parses a signed checkpoint without verifying any
// signature; use it only on checkpoints verified otherwise.
func ParseCheckpointNote(msg []byte) (Checkpoint, error) {
	text, _, ok := strings.Cut(string(msg), "\n\n")
	if !ok {
		return Checkpoint{}, errors.New("audit: not a signed note")
	}
	return ParseCheckpoint(text + "\n")
}

// Cosigned returns the names of the verifiers in vs whose signatures on msg
// verify.
func Cosigned(msg []byte, vs ...note.Verifier) []string {
	var names []string
	for _, v := range vs {
		if _, err := note.Open(msg, note.VerifierList(v)); err == nil {
			names = append(names, v.Name())
		}
	}
	return names
}
