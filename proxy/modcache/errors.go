package modcache

import (
	"fmt"

	"github.com/modgate/modgate/proxy/upstream"
)

// ErrNotCached means the artifact is not cached and no source may be
// asked for it (cache-only mode, or a private module without a private
// upstream). It matches upstream.ErrNotFound.
var ErrNotCached = fmt.Errorf("not in the cache and no upstream is configured for it: %w", upstream.ErrNotFound)

// FetchError reports a failure to obtain a file from the source, or
// content the source sent that failed a structural check.
type FetchError struct {
	Module, Version string
	Kind            Kind
	Err             error
}

func (e *FetchError) Error() string {
	subject := e.Module
	if e.Version != "" {
		subject += "@" + e.Version
	}
	return fmt.Sprintf("%s: %s: %v", subject, e.Kind, e.Err)
}

func (e *FetchError) Unwrap() error { return e.Err }

// StorageError reports a failure of the cache storage.
type StorageError struct {
	Op  string
	Err error
}

func (e *StorageError) Error() string { return "storage " + e.Op + ": " + e.Err.Error() }
func (e *StorageError) Unwrap() error { return e.Err }

// RequestError reports a module path or version that cannot be escaped
// (it is invalid).
type RequestError struct {
	Module, Version string
	Err             error
}

func (e *RequestError) Error() string {
	subject := e.Module
	if e.Version != "" {
		subject += "@" + e.Version
	}
	return subject + ": " + e.Err.Error()
}

func (e *RequestError) Unwrap() error { return e.Err }
