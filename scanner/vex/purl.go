package vex

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// PURL is a Go package URL (https://github.com/package-url/purl-spec):
// pkg:golang/<module path>@<version>, with optional qualifiers and
// subpath.
//
// Each module path element is one purl path segment and the version
// follows the last "@"; characters outside the purl's unreserved set
// (A-Z a-z 0-9 - . _ ~) are percent-encoded, so for valid module paths
// only the "+" of +incompatible versions is (as %2B). Case is preserved:
// the purl golang type's note asks for lowercasing, but Go module paths
// are case-sensitive (github.com/Azure/... and github.com/azure/... are
// different modules), so lowercasing would lose the module's identity.
// Parsing also accepts a module path escaped as a single segment
// (pkg:golang/github.com%2Fuser%2Fmodule@v1.0.0, as govulncheck writes).
type PURL struct {
	// Module is the module path (decoded); "stdlib" and "toolchain"
	// name the standard library and the go command, as in govulncheck.
	Module string
	// Version is the version (decoded); "" means none.
	Version string
	// Qualifiers are the optional key=value pairs; nil means none.
	Qualifiers map[string]string
	// Subpath is the optional package directory inside the module.
	Subpath string
}

// PURLError reports a package URL that cannot be parsed.
type PURLError struct {
	PURL string
	Err  error
}

func (e *PURLError) Error() string { return fmt.Sprintf("purl %q: %v", e.PURL, e.Err) }
func (e *PURLError) Unwrap() error { return e.Err }

// ModulePURL returns the package URL of module path at version ("" for
// none).
func ModulePURL(path, version string) string {
	return PURL{Module: path, Version: version}.String()
}

// String formats p as a canonical package URL: qualifiers sorted by key.
func (p PURL) String() string {
	var b strings.Builder
	b.WriteString("pkg:golang/")
	b.WriteString(escapeSegments(p.Module))
	if p.Version != "" {
		b.WriteString("@" + purlEscape(p.Version))
	}
	keys := make([]string, 0, len(p.Qualifiers))
	for k, v := range p.Qualifiers {
		if v != "" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	sep := "?"
	for _, k := range keys {
		b.WriteString(sep + purlEscape(strings.ToLower(k)) + "=" + purlEscape(p.Qualifiers[k]))
		sep = "&"
	}
	if p.Subpath != "" {
		b.WriteString("#" + escapeSegments(p.Subpath))
	}
	return b.String()
}

// ParsePURL parses a pkg:golang package URL. Any version string is
// accepted (the purl golang type allows commit hashes); [Index] matches
// only valid module versions.
func ParsePURL(s string) (p PURL, err error) {
	defer func() {
		if err != nil {
			p, err = PURL{}, &PURLError{PURL: s, Err: err}
		}
	}()
	rest, ok := cutPrefixFold(s, "pkg:")
	if !ok {
		return PURL{}, errors.New("not a package URL")
	}
	rest = strings.TrimLeft(rest, "/")
	if rest, p.Subpath, err = cutSubpath(rest); err != nil {
		return PURL{}, err
	}
	if rest, p.Qualifiers, err = cutQualifiers(rest); err != nil {
		return PURL{}, err
	}
	typ, rest, _ := strings.Cut(rest, "/")
	if !strings.EqualFold(typ, "golang") {
		return PURL{}, fmt.Errorf("type %q is not golang", typ)
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		if p.Version, err = url.PathUnescape(rest[i+1:]); err != nil {
			return PURL{}, fmt.Errorf("version: %v", err)
		}
		if p.Version == "" {
			return PURL{}, errors.New("empty version after @")
		}
		rest = rest[:i]
	}
	if p.Module, err = unescapeSegments(strings.Trim(rest, "/")); err != nil {
		return PURL{}, err
	}
	if err := checkModulePath(p.Module); err != nil {
		return PURL{}, err
	}
	return p, nil
}

// isPURL reports whether s looks like a package URL of any type.
func isPURL(s string) bool {
	_, ok := cutPrefixFold(s, "pkg:")
	return ok
}

// isGoPURL reports whether s is a package URL of type golang.
func isGoPURL(s string) bool {
	rest, ok := cutPrefixFold(s, "pkg:")
	if !ok {
		return false
	}
	typ, _, _ := strings.Cut(strings.TrimLeft(rest, "/"), "/")
	return strings.EqualFold(typ, "golang")
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// cutSubpath splits off "#subpath", dropping empty, "." and ".."
// segments as the purl specification says.
func cutSubpath(s string) (string, string, error) {
	i := strings.LastIndexByte(s, '#')
	if i < 0 {
		return s, "", nil
	}
	var segs []string
	for _, seg := range strings.Split(s[i+1:], "/") {
		d, err := url.PathUnescape(seg)
		if err != nil {
			return "", "", fmt.Errorf("subpath: %v", err)
		}
		if d != "" && d != "." && d != ".." {
			segs = append(segs, d)
		}
	}
	return s[:i], strings.Join(segs, "/"), nil
}

// cutQualifiers splits off "?k=v&k2=v2"; keys are lowercased and empty
// values dropped.
func cutQualifiers(s string) (string, map[string]string, error) {
	i := strings.LastIndexByte(s, '?')
	if i < 0 {
		return s, nil, nil
	}
	q := map[string]string{}
	for _, kv := range strings.Split(s[i+1:], "&") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return "", nil, fmt.Errorf("qualifier %q is not key=value", kv)
		}
		d, err := url.PathUnescape(v)
		if err != nil {
			return "", nil, fmt.Errorf("qualifier %s: %v", k, err)
		}
		if d != "" {
			q[strings.ToLower(k)] = d
		}
	}
	return s[:i], q, nil
}

func unescapeSegments(s string) (string, error) {
	if s == "" {
		return "", errors.New("no module path")
	}
	segs := strings.Split(s, "/")
	for i, seg := range segs {
		d, err := url.PathUnescape(seg)
		if err != nil {
			return "", fmt.Errorf("module path: %v", err)
		}
		segs[i] = d
	}
	return strings.Join(segs, "/"), nil
}

// checkModulePath accepts module paths and govulncheck's pseudo-modules.
func checkModulePath(path string) error {
	if path == "stdlib" || path == "toolchain" {
		return nil
	}
	return module.CheckPath(path)
}

func escapeSegments(s string) string {
	segs := strings.Split(s, "/")
	for i, seg := range segs {
		segs[i] = purlEscape(seg)
	}
	return strings.Join(segs, "/")
}

// purlEscape percent-encodes everything but RFC 3986 unreserved
// characters.
func purlEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// canonicalVersion returns the form versions are matched in: semver
// canonical, build metadata (+incompatible) dropped, a missing "v"
// added; "" for anything that is not a semantic version.
func canonicalVersion(v string) string {
	if v != "" && v[0] != 'v' && semver.IsValid("v"+v) {
		v = "v" + v
	}
	return semver.Canonical(v)
}
