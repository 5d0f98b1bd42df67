// Package storage owns where modgate's bytes live. A [Storage] is a flat
// key/value store of immutable-once-written blobs with an atomic Put: a
// reader sees either the whole previous content or the whole new content,
// never a partial write, even if the process is killed mid-write.
//
// Keys are slash-separated, built by callers from escaped module paths and
// versions (see golang.org/x/mod/module.EscapePath), so they are safe on
// case-insensitive file systems. [CheckKey] rejects anything that could
// escape the store (".." elements, absolute paths, backslashes, NUL).
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"
)

// Storage stores blobs by key. Implementations must be safe for concurrent
// use. Get of a missing key returns an error that matches fs.ErrNotExist
// (errors.Is). Put must be atomic: concurrent or crashed writers never make
// a partial blob visible.
type Storage interface {
	// Get opens the blob stored under key.
	Get(ctx context.Context, key string) (Blob, error)
	// Put stores the content read from r under key, replacing any previous
	// blob. The blob becomes visible only after r has been read to EOF and
	// the data is durable.
	Put(ctx context.Context, key string, r io.Reader) error
	// Delete removes the blob. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Walk calls fn for every key that starts with prefix, in lexical
	// order. It stops at the first error fn returns and returns it.
	Walk(ctx context.Context, prefix string, fn func(key string) error) error
}

// Blob is an open stored object. It is seekable so it can be served with
// http.ServeContent (Range and conditional requests).
type Blob interface {
	io.ReadSeekCloser
	Size() int64
	ModTime() time.Time
}

// KeyError reports a key that [CheckKey] rejected.
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return fmt.Sprintf("storage key %q: %v", e.Key, e.Err) }
func (e *KeyError) Unwrap() error { return e.Err }

// ErrInvalidKey is wrapped by every [KeyError].
var ErrInvalidKey = errors.New("invalid key")

// CheckKey reports whether key is a clean relative slash path that stays
// inside the store. Backends call it before touching anything.
func CheckKey(key string) error {
	bad := func(why string) error {
		return &KeyError{Key: key, Err: fmt.Errorf("%w: %s", ErrInvalidKey, why)}
	}
	switch {
	case key == "":
		return bad("empty")
	case len(key) > 4096:
		return bad("too long")
	case strings.HasPrefix(key, "/"):
		return bad("absolute")
	case strings.ContainsAny(key, "\\\x00"):
		return bad("backslash or NUL")
	}
	for _, elem := range strings.Split(key, "/") {
		if elem == "" || elem == "." || elem == ".." {
			return bad("empty, '.' or '..' element")
		}
	}
	return nil
}

// IsNotExist reports whether err means the key is absent.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
