// Package safefile writes whole files so that a crash, a full disk or a
// concurrent writer never leaves a half-written file at the final path.
//
// Both functions write the data to a temporary file in the target's folder,
// sync it, move it into place in one step, and sync the folder, so that the
// new name survives a power cut too. On any failure the temporary file is
// removed. Write replaces an existing file; Create refuses to, which is what
// key files need: a key replaced by accident makes stored messages unreadable.
//
// Missing parent folders are created with mode 0700 (and their own parents
// synced), because every file written through this package lives under the
// broker's or an agency's data directory, which holds secrets. A caller that
// wants a more open folder creates it first.
package safefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Write atomically replaces the file at path with data, with mode perm. The
// file at path is either the old one or the new one, never a mixture, and the
// new one is on disk when Write returns nil.
func Write(path string, data []byte, perm fs.FileMode) error {
	return write(path, data, perm, false)
}

// Create writes data to a new file at path with mode perm. It fails with an
// error wrapping fs.ErrExist if path already exists, even when another
// process creates it at the same moment: the file is linked into place, and
// linking never replaces. A file at path is always complete.
func Create(path string, data []byte, perm fs.FileMode) error {
	return write(path, data, perm, true)
}

func write(path string, data []byte, perm fs.FileMode, exclusive bool) (err error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	if path == "" || base == "." || base == ".." || base == string(filepath.Separator) {
		return fmt.Errorf("safefile: %q does not name a file", path)
	}
	if exclusive {
		// Fail early, before writing anything; the link below is what
		// guarantees it.
		if _, err := os.Lstat(path); err == nil {
			return existsError(path)
		}
	}
	if err := mkdirAll(dir); err != nil {
		return fmt.Errorf("safefile: creating the folder of %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return fmt.Errorf("safefile: %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// CreateTemp makes the file 0600; Chmod sets perm exactly, whatever the
	// umask.
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("safefile: %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("safefile: %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("safefile: %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("safefile: %s: %w", path, err)
	}
	if exclusive {
		err = os.Link(tmp, path)
		if errors.Is(err, fs.ErrExist) {
			return existsError(path)
		}
		if err != nil {
			return fmt.Errorf("safefile: %s: %w (Create needs a file system with hard links)", path, err)
		}
		// From here on path is complete and in place; only the temporary
		// name is left to remove.
		if err := os.Remove(tmp); err != nil {
			return fmt.Errorf("safefile: %s is written, but its temporary name is left: %w", path, err)
		}
	} else if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("safefile: %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("safefile: %s is written but may not survive a crash: syncing its folder: %w", path, err)
	}
	return nil
}

func existsError(path string) error {
	return fmt.Errorf("safefile: %s already exists; refusing to replace it (move it away first if you mean to): %w", path, fs.ErrExist)
}

// mkdirAll creates dir and any missing parents with mode 0700, syncing the
// folder each new one was made in so that the whole path survives a crash.
func mkdirAll(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a folder", dir)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAll(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Made meanwhile by someone else: fine.
			return nil
		}
		return err
	}
	return syncDir(parent)
}

// syncDir makes the folder's entries durable. Windows cannot open a folder
// for syncing; there the file system alone decides when a rename is durable.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
