// Package inbox keeps an agency's received messages on its own disk, each
// with the broker's signed decision it came with: the rule, the basis in law
// and the obligations that travel with the data (e.g. "fu-secrecy: do not
// forward"). A message is taken from the broker only once it is stored here.
package inbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/sekretessbroker/sekretessbroker/broker/safefile"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

// Errors callers can test for with errors.Is.
var (
	// ErrNotFound: no stored message has the id.
	ErrNotFound = errors.New("inbox: no such message")
	// ErrDamaged: some stored files could not be read; the others are
	// returned. The error names each file.
	ErrDamaged = errors.New("inbox: damaged files")
)

// Message ids name files, so only well-formed ones are accepted.
var idRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

func validID(id string) bool { return idRE.MatchString(id) }

// Box is a directory of received messages, one JSON file each (mode 0600).
type Box struct{ dir string }

// Open opens the box in dir, creating it if needed.
func Open(dir string) (*Box, error) {
	if err := os.MkdirAll(filepath.Join(dir, "handled"), 0o700); err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	return &Box{dir: dir}, nil
}

// Save stores d with its decision, on disk (fsync) before it returns, so
// that the delivery may be acknowledged. Saving an open message again
// replaces it; a message already handled is not brought back (a redelivery
// of it changes nothing).
func (b *Box) Save(d *agency.Delivery) error {
	if !validID(d.ID) {
		return fmt.Errorf("inbox: message id %q is not a message id", d.ID)
	}
	if _, err := os.Stat(filepath.Join(b.dir, "handled", d.ID+".json")); err == nil {
		return nil
	}
	data, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	if err := safefile.Write(filepath.Join(b.dir, d.ID+".json"), data, 0o600); err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	return nil
}

// syncDir makes a rename in dir durable; MarkHandled moves a file between
// two folders, which safefile does not cover.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Get returns a stored message, handled or not.
func (b *Box) Get(id string) (*agency.Delivery, error) {
	if !validID(id) {
		return nil, fmt.Errorf("%w: %q is not a message id (32 hex digits)", ErrNotFound, id)
	}
	for _, p := range []string{filepath.Join(b.dir, id+".json"), filepath.Join(b.dir, "handled", id+".json")} {
		d, err := read(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		return d, err
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
}

// RecordAssessment keeps an official's assessment of the stored message id,
// such as a decision to withhold what was asked for, beside it, on disk
// before it returns. It is kept as handled/<id>.assessment (JSON).
func (b *Box) RecordAssessment(id string, assessment any) error {
	if !validID(id) {
		return fmt.Errorf("%w: %q is not a message id (32 hex digits)", ErrNotFound, id)
	}
	data, err := json.MarshalIndent(assessment, "", "  ")
	if err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	if err := safefile.Write(filepath.Join(b.dir, "handled", id+".assessment"), data, 0o600); err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	return nil
}

// MarkHandled moves a message out of the list of open ones.
func (b *Box) MarkHandled(id string) error {
	if _, err := b.Get(id); err != nil {
		return err
	}
	err := os.Rename(filepath.Join(b.dir, id+".json"), filepath.Join(b.dir, "handled", id+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = errors.Join(syncDir(b.dir), syncDir(filepath.Join(b.dir, "handled")))
	}
	if err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	return nil
}

// Open returns the messages not yet handled, oldest first.
func (b *Box) Open() ([]*agency.Delivery, error) { return list(b.dir) }

// Handled returns the messages already handled, oldest first.
func (b *Box) Handled() ([]*agency.Delivery, error) { return list(filepath.Join(b.dir, "handled")) }

func list(dir string) ([]*agency.Delivery, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	var out []*agency.Delivery
	var damaged []error
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		d, err := read(filepath.Join(dir, e.Name()))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Moved meanwhile (handled by another run).
		case err != nil:
			damaged = append(damaged, err)
		default:
			out = append(out, d)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	if len(damaged) > 0 {
		return out, fmt.Errorf("%w: %w (move each aside; the message it held is in the broker's audit log, and its sender can send it again)", ErrDamaged, errors.Join(damaged...))
	}
	return out, nil
}

func read(path string) (*agency.Delivery, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d agency.Delivery
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("inbox: %s: %w", path, err)
	}
	return &d, nil
}
