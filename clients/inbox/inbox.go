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

	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

// ErrNotFound: no stored message has the id.
var ErrNotFound = errors.New("inbox: no such message")

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

// Save stores d with its decision. Saving the same message again replaces it.
func (b *Box) Save(d *agency.Delivery) error {
	if !validID(d.ID) {
		return fmt.Errorf("inbox: message id %q is not a message id", d.ID)
	}
	data, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	tmp := filepath.Join(b.dir, "."+d.ID+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(b.dir, d.ID+".json")); err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	return nil
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

// MarkHandled moves a message out of the list of open ones.
func (b *Box) MarkHandled(id string) error {
	if _, err := b.Get(id); err != nil {
		return err
	}
	err := os.Rename(filepath.Join(b.dir, id+".json"), filepath.Join(b.dir, "handled", id+".json"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
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
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		d, err := read(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
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
