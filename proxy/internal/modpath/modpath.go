// Package modpath owns the fast escaping of module paths and versions that
// the proxy's hot path needs: golang.org/x/mod/module's checks dominate the
// cost of a cache hit and would otherwise run several times per request
// (request parsing, storage keys), so paths that passed module.CheckPath
// once are remembered.
//
// Every function returns exactly what the golang.org/x/mod/module
// equivalent returns; only the cost differs.
package modpath

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/modgate/modgate/internal/lru"
)

// maxRemembered bounds the memory of checked paths (evicted ones are
// cheap to check again).
const maxRemembered = 100000

// Checks remembers module paths that passed module.CheckPath. The zero
// value is ready to use and safe for concurrent use.
type Checks struct {
	once sync.Once
	ok   *lru.Cache[string, struct{}]
}

func (c *Checks) init() {
	c.once.Do(func() { c.ok = lru.New[string, struct{}](maxRemembered) })
}

// Plain reports whether s, an escaped path or version, is its own
// unescaped form: ASCII without '!' or upper case, as nearly every request.
func Plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '!' || c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}

// EscapePath is module.EscapePath, skipping the path check for paths that
// passed it before. A path without upper case or '!' is its own escape.
func (c *Checks) EscapePath(mod string) (string, error) {
	if !Plain(mod) {
		return module.EscapePath(mod)
	}
	c.init()
	if _, ok := c.ok.Get(mod); ok {
		return mod, nil
	}
	if err := module.CheckPath(mod); err != nil {
		return "", err
	}
	c.ok.Put(mod, struct{}{})
	return mod, nil
}

// UnescapePath is module.UnescapePath without its allocations for plain
// paths; on any error it defers to module.UnescapePath for the message.
func (c *Checks) UnescapePath(esc string) (string, error) {
	if Plain(esc) {
		if _, err := c.EscapePath(esc); err == nil {
			return esc, nil
		}
	}
	return module.UnescapePath(esc)
}

// EscapeVersion is module.EscapeVersion. Semantic versions use only
// [0-9A-Za-z.+-] with no empty identifiers; without upper case they are
// their own escape and safe in file names.
func EscapeVersion(v string) (string, error) {
	if Plain(v) && semver.IsValid(v) {
		return v, nil
	}
	return module.EscapeVersion(v)
}

// UnescapeVersion is module.UnescapeVersion likewise. EscapeVersion of a
// plain version makes the same file-name check without allocating.
func UnescapeVersion(esc string) (string, error) {
	if Plain(esc) {
		if _, err := module.EscapeVersion(esc); err == nil {
			return esc, nil
		}
	}
	return module.UnescapeVersion(esc)
}

// Storage names are built from escaped paths and versions, so their
// lengths are bounded by what file systems allow in one name (255 bytes),
// less room for the longest suffix (".commit"). The go command has no
// such bound, but no real module comes near it.
const (
	MaxElem    = 240 // bytes in one escaped path element
	MaxVersion = 240 // bytes in an escaped version
)

// ErrTooLong is wrapped by errors for paths or versions over the bounds.
var ErrTooLong = errors.New("too long")

// CheckLengths checks an escaped path and version against the bounds.
func CheckLengths(escPath, escVersion string) error {
	if len(escVersion) > MaxVersion {
		return fmt.Errorf("version %w: %d bytes escaped, at most %d", ErrTooLong, len(escVersion), MaxVersion)
	}
	for len(escPath) > MaxElem {
		elem, rest, _ := strings.Cut(escPath, "/")
		if len(elem) > MaxElem {
			return fmt.Errorf("module path element %w: %d bytes escaped, at most %d", ErrTooLong, len(elem), MaxElem)
		}
		escPath = rest
	}
	return nil
}

// Escape returns the escaped forms of a module path and an optional
// version, which must be within the length bounds.
func (c *Checks) Escape(mod, version string) (escPath, escVersion string, err error) {
	if escPath, err = c.EscapePath(mod); err != nil {
		return "", "", err
	}
	if version != "" {
		if escVersion, err = EscapeVersion(version); err != nil {
			return "", "", err
		}
	}
	if err := CheckLengths(escPath, escVersion); err != nil {
		return "", "", err
	}
	return escPath, escVersion, nil
}
