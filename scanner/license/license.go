// Package license detects the licenses of a module version from its zip,
// the way the Go package discovery site does: files with a license-like name (LICENSE,
// COPYING, LICENSE-MIT, ...) are scanned with github.com/google/licensecheck,
// and a file counts as classified only when at least 75% of its text is
// covered by known licenses. Files at the module root are the module's
// licenses; files in subdirectories apply to those directories; vendored
// copies are ignored.
//
// Results are immutable per module version (module zips never change), so
// [Cache] keeps them by module@version. The package decides nothing: which
// licenses are acceptable is policy.
package license

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/google/licensecheck"
	"golang.org/x/mod/module"
)

// CoverageThreshold is the percentage of a license file's words that must
// match known licenses for the file to be classified (the discovery site's value).
const CoverageThreshold = 75

// maxLicenseSize bounds the license files read; larger ones are Unknown.
const maxLicenseSize = 4 << 20

// License is one license file.
type License struct {
	// Path is the file's slash path relative to the module root.
	Path string `json:"path"`
	// IDs are the licenses found (licensecheck IDs, SPDX identifiers for
	// SPDX licenses), sorted; empty when the file is unclassified.
	IDs []string `json:"ids,omitempty"`
	// Coverage is the percentage of the file's text matched by known
	// licenses (licensecheck's Coverage.Percent): the confidence.
	Coverage float64 `json:"coverage"`
}

// Unknown reports whether the file could not be classified.
func (l License) Unknown() bool { return len(l.IDs) == 0 }

// Result describes the licenses of one module version.
type Result struct {
	Module  string `json:"module"`
	Version string `json:"version"`
	// Licenses are all license files: root files first, then the others,
	// each group sorted by path.
	Licenses []License `json:"licenses,omitempty"`
	// IDs are the module's licenses: the union of the root files' IDs,
	// sorted. Empty when there is no classified root license.
	IDs []string `json:"ids,omitempty"`
	// Confidence is the lowest coverage among the root license files
	// (0 when there are none): how sure the detection of IDs is.
	Confidence float64 `json:"confidence"`
	// Unknown is true when the module has no root license file or one of
	// them could not be classified; IDs then may not tell the whole story.
	Unknown bool `json:"unknown"`
}

// IsRoot reports whether l is a root license file.
func (l License) IsRoot() bool { return !strings.Contains(l.Path, "/") }

// licenseNames are the lower-cased base names (without a .md, .txt,
// .markdown or .rst extension) treated as license files.
var licenseNames = map[string]bool{
	"license": true, "licence": true, "copying": true, "copyright": true,
	"unlicense": true, "unlicence": true,
	"license-mit": true, "licence-mit": true, "license.mit": true, "licence.mit": true,
	"license-apache": true, "licence-apache": true, "license-apache-2.0": true, "licence-apache-2.0": true,
	"license-2.0": true, "licence-2.0": true,
	"license.code": true, "licence.code": true, "license.docs": true, "licence.docs": true,
	"mit-license": true, "mit-licence": true, "mit_license": true, "mit_licence": true,
}

// IsLicenseFile reports whether a file name (a base name) is treated as a
// license file.
func IsLicenseFile(name string) bool {
	n := strings.ToLower(name)
	for _, ext := range []string{".md", ".markdown", ".txt", ".rst"} {
		if s, ok := strings.CutSuffix(n, ext); ok {
			n = s
			break
		}
	}
	return licenseNames[n]
}

// Error is a failure to read a module zip.
type Error struct {
	Module, Version string
	Err             error
}

func (e *Error) Error() string { return e.Module + "@" + e.Version + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// DetectFile detects the licenses in the module zip at zipPath.
func DetectFile(mod, version, zipPath string) (*Result, error) {
	f, err := os.Open(zipPath)
	if err != nil {
		return nil, &Error{mod, version, err}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, &Error{mod, version, err}
	}
	return Detect(mod, version, f, fi.Size())
}

// Detect detects the licenses in the module zip read from r.
func Detect(mod, version string, r io.ReaderAt, size int64) (*Result, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, &Error{mod, version, err}
	}
	prefix := mod + "@" + version + "/"
	res := &Result{Module: mod, Version: version}
	var root, other []License
	for _, zf := range zr.File {
		rel, ok := strings.CutPrefix(zf.Name, prefix)
		if !ok || !IsLicenseFile(path.Base(rel)) || vendored(rel) || module.CheckFilePath(rel) != nil {
			continue
		}
		l, err := scanFile(zf)
		if err != nil {
			return nil, &Error{mod, version, fmt.Errorf("%s: %w", rel, err)}
		}
		l.Path = rel
		if l.IsRoot() {
			root = append(root, l)
		} else {
			other = append(other, l)
		}
	}
	byPath := func(a, b License) int { return strings.Compare(a.Path, b.Path) }
	slices.SortFunc(root, byPath)
	slices.SortFunc(other, byPath)
	res.Licenses = append(root, other...)
	res.Unknown = len(root) == 0
	for i, l := range root {
		if l.Unknown() {
			res.Unknown = true
		}
		for _, id := range l.IDs {
			if !slices.Contains(res.IDs, id) {
				res.IDs = append(res.IDs, id)
			}
		}
		if i == 0 || l.Coverage < res.Confidence {
			res.Confidence = l.Coverage
		}
	}
	slices.Sort(res.IDs)
	return res, nil
}

// vendored reports whether rel is inside a vendor directory's package
// (vendor/LICENSE itself may belong to a package named vendor).
func vendored(rel string) bool {
	var rest string
	if r, ok := strings.CutPrefix(rel, "vendor/"); ok {
		rest = r
	} else if i := strings.Index(rel, "/vendor/"); i >= 0 {
		rest = rel[i+len("/vendor/"):]
	} else {
		return false
	}
	return strings.Contains(rest, "/")
}

func scanFile(zf *zip.File) (License, error) {
	if zf.UncompressedSize64 > maxLicenseSize {
		return License{}, nil // too large to be a plain license: unknown
	}
	rc, err := zf.Open()
	if err != nil {
		return License{}, err
	}
	defer rc.Close()
	text, err := io.ReadAll(io.LimitReader(rc, maxLicenseSize+1))
	if err != nil {
		return License{}, err
	}
	return Classify(text), nil
}

// Classify scans one license text. IDs are set only when the coverage
// reaches CoverageThreshold.
func Classify(text []byte) License {
	cov := licensecheck.Scan(text)
	l := License{Coverage: cov.Percent}
	if cov.Percent < CoverageThreshold {
		return l
	}
	for _, m := range cov.Match {
		if !slices.Contains(l.IDs, m.ID) {
			l.IDs = append(l.IDs, m.ID)
		}
	}
	slices.Sort(l.IDs)
	return l
}
