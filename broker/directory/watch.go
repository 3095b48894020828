package directory

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Source serves the current directory and swaps in a new one when the file
// changes. Messages in flight keep the directory they started with; a bad file
// is logged and ignored, so a typo never takes agencies offline.
type Source struct {
	path   string
	logger *slog.Logger

	cur atomic.Pointer[Directory]

	mu       sync.Mutex // serialises reloads and guards the fields below
	modTime  time.Time
	size     int64
	onChange []func(*Directory)
}

// Open loads the directory at path. It fails if the file is missing or invalid.
// A nil logger discards.
func Open(path string, logger *slog.Logger) (*Source, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Source{path: path, logger: logger}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	d, err := Load(path)
	if err != nil {
		return nil, err
	}
	s.cur.Store(d)
	s.modTime, s.size = fi.ModTime(), fi.Size()
	return s, nil
}

// Current returns the directory in force now.
func (s *Source) Current() *Directory { return s.cur.Load() }

// OnChange registers f to run, in order, on every successful reload, before
// the new directory becomes Current.
func (s *Source) OnChange(f func(*Directory)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onChange = append(s.onChange, f)
}

// Reload reads the file again. On error the current directory stays in force.
func (s *Source) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reloadLocked()
}

func (s *Source) reloadLocked() error {
	fi, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	d, err := Load(s.path)
	if err != nil {
		return err
	}
	s.modTime, s.size = fi.ModTime(), fi.Size()
	// Prepare everything a new agency needs (NATS user, consumers) before the
	// pipeline can route messages to it.
	for _, f := range s.onChange {
		f(d)
	}
	s.cur.Store(d)
	s.logger.Info("directory loaded", "path", s.path, "agencies", len(d.Agencies))
	return nil
}

// Watch polls the file every interval and reloads it when its size or
// modification time changed. It returns once ctx is done, so a caller that
// runs it in a goroutine can wait for it to stop. Polling works on every file
// system, including bind mounts and config maps where change notification does not.
func (s *Source) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fi, err := os.Stat(s.path)
		if err != nil {
			s.logger.Warn("directory: cannot stat, keeping the current one", "path", s.path, "err", err)
			continue
		}
		s.mu.Lock()
		changed := !fi.ModTime().Equal(s.modTime) || fi.Size() != s.size
		if changed {
			if err := s.reloadLocked(); err != nil {
				// Remember the bad version so it is reported once, not every tick.
				s.modTime, s.size = fi.ModTime(), fi.Size()
				s.logger.Error("directory: reload failed, keeping the current one", "err", err)
			}
		}
		s.mu.Unlock()
	}
}
