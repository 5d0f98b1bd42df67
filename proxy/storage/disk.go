package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// tmpDir is the scratch directory inside a [Disk] root. Keys never start
// with a dot element, so it cannot collide with stored blobs.
const tmpDir = ".tmp"

// Disk stores blobs as files under Root. Every Put writes a temp file in
// Root/.tmp, fsyncs it, renames it into place and fsyncs the directory, so
// a crash leaves either the old blob, the new one, or an orphaned temp file
// that [Disk.CleanTemp] removes; never a partial blob under its key.
type Disk struct {
	// Root is the directory holding the blobs. It is created on first use.
	Root string
}

// NewDisk returns a Disk rooted at dir, creating it and removing temp files
// left by a previous crash.
func NewDisk(dir string) (*Disk, error) {
	d := &Disk{Root: dir}
	if err := os.MkdirAll(filepath.Join(dir, tmpDir), 0o755); err != nil {
		return nil, fmt.Errorf("storage: create %s: %w", dir, err)
	}
	if err := d.CleanTemp(); err != nil {
		return nil, err
	}
	return d, nil
}

// CleanTemp removes temp files left by interrupted writes.
func (d *Disk) CleanTemp() error {
	entries, err := os.ReadDir(filepath.Join(d.Root, tmpDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: clean temp: %w", err)
	}
	for _, e := range entries {
		os.Remove(filepath.Join(d.Root, tmpDir, e.Name()))
	}
	return nil
}

func (d *Disk) path(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	if strings.HasPrefix(key, ".") {
		return "", &KeyError{Key: key, Err: fmt.Errorf("%w: reserved name", ErrInvalidKey)}
	}
	return filepath.Join(d.Root, filepath.FromSlash(key)), nil
}

type diskBlob struct {
	*os.File
	size    int64
	modTime time.Time
}

func (b *diskBlob) Size() int64        { return b.size }
func (b *diskBlob) ModTime() time.Time { return b.modTime }

// Get opens the blob stored under key.
func (d *Disk) Get(ctx context.Context, key string) (Blob, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: key, Err: fs.ErrNotExist}
	}
	return &diskBlob{File: f, size: fi.Size(), modTime: fi.ModTime()}, nil
}

// TempFile creates a scratch file on the same file system as the store,
// so that [Disk.PutFile] can rename it into place without copying.
func (d *Disk) TempFile() (*os.File, error) {
	f, err := os.CreateTemp(filepath.Join(d.Root, tmpDir), "put-*")
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Join(d.Root, tmpDir), 0o755); err != nil {
			return nil, err
		}
		f, err = os.CreateTemp(filepath.Join(d.Root, tmpDir), "put-*")
	}
	return f, err
}

// Put stores r's content under key atomically.
func (d *Disk) Put(ctx context.Context, key string, r io.Reader) error {
	if _, err := d.path(key); err != nil {
		return err
	}
	f, err := d.TempFile()
	if err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := io.Copy(f, ctxReader{ctx, r}); err != nil {
		f.Close()
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	return d.PutFile(ctx, key, tmp)
}

// PutFile moves the file at path (which should come from [Disk.TempFile])
// into place under key, after syncing it to disk. The file is consumed.
func (d *Disk) PutFile(ctx context.Context, key, path string) error {
	dst, err := d.path(key)
	if err != nil {
		return err
	}
	if err := syncFile(path); err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	if err := os.Rename(path, dst); err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	// Sync the directory so the rename itself survives a power loss.
	if err := syncFile(filepath.Dir(dst)); err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Delete removes the blob under key.
func (d *Disk) Delete(ctx context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: delete %s: %w", key, err)
	}
	return nil
}

// Walk calls fn for each key under prefix in lexical order.
func (d *Disk) Walk(ctx context.Context, prefix string, fn func(key string) error) error {
	var keys []string
	err := filepath.WalkDir(d.Root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(d.Root, p)
		rel = filepath.ToSlash(rel)
		if e.IsDir() {
			if rel == tmpDir {
				return filepath.SkipDir
			}
			// Prune directories that cannot contain prefix matches.
			if rel != "." && !strings.HasPrefix(rel+"/", prefix) && !strings.HasPrefix(prefix, rel+"/") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(rel, prefix) && e.Type().IsRegular() {
			keys = append(keys, rel)
		}
		return ctx.Err()
	})
	if err != nil {
		return fmt.Errorf("storage: walk %s: %w", prefix, err)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

// ctxReader stops a copy when ctx is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
