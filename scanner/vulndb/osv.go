package vulndb

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Pseudo-module paths the Go vulnerability database uses for the standard
// library and the go command, and the real module that ships toolchains.
const (
	StdlibModule    = "stdlib"
	ToolchainModule = "toolchain"
	// GoToolchainModule is the module the go command downloads toolchains
	// from (GOTOOLCHAIN); its versions look like
	// "v0.0.1-go1.21.3.linux-amd64" and are matched against both
	// pseudo-modules above.
	GoToolchainModule = "golang.org/toolchain"
)

// Review statuses of [DatabaseSpecific.ReviewStatus].
const (
	ReviewStatusReviewed   = "REVIEWED"
	ReviewStatusUnreviewed = "UNREVIEWED"
)

// Entry is one vulnerability in the Go OSV format
// (https://go.dev/security/vuln/database#schema), the subset of the OSV
// schema that govulncheck reads. Fields govulncheck does not know are
// dropped when an entry is loaded, so the database modgate serves only
// carries what every govulncheck version can parse.
type Entry struct {
	SchemaVersion string    `json:"schema_version,omitempty"`
	ID            string    `json:"id"`
	Modified      time.Time `json:"modified"`
	Published     time.Time `json:"published,omitzero"`
	// Withdrawn, when set, means the entry no longer applies: it never
	// matches in [Index.Affects], and govulncheck ignores it too.
	Withdrawn        *time.Time        `json:"withdrawn,omitempty"`
	Aliases          []string          `json:"aliases,omitempty"`
	Summary          string            `json:"summary,omitempty"`
	Details          string            `json:"details"`
	Affected         []Affected        `json:"affected"`
	References       []Reference       `json:"references,omitempty"`
	Credits          []Credit          `json:"credits,omitempty"`
	DatabaseSpecific *DatabaseSpecific `json:"database_specific,omitempty"`
}

// ReviewStatus returns the entry's review status ("REVIEWED",
// "UNREVIEWED", or "" when the source does not say).
func (e *Entry) ReviewStatus() string {
	if e.DatabaseSpecific == nil {
		return ""
	}
	return e.DatabaseSpecific.ReviewStatus
}

// Affected is one module affected by an entry.
type Affected struct {
	Module Module `json:"package"`
	// Ranges are the affected versions. No ranges, or no range of type
	// SEMVER, means every version is affected (govulncheck's reading).
	Ranges            []Range           `json:"ranges,omitempty"`
	EcosystemSpecific EcosystemSpecific `json:"ecosystem_specific,omitzero"`
}

// Module names the affected module. Path is "stdlib" or "toolchain" for
// the Go distribution.
type Module struct {
	Path      string `json:"name"`
	Ecosystem string `json:"ecosystem"`
}

// Range is a list of introduced/fixed events. Versions are semantic
// versions without the "v" prefix; "0" as introduced means "since the
// beginning".
type Range struct {
	Type   string       `json:"type"`
	Events []RangeEvent `json:"events"`
}

// RangeEvent introduces or fixes the vulnerability at a version. Exactly
// one field is set.
type RangeEvent struct {
	Introduced string `json:"introduced,omitempty"`
	Fixed      string `json:"fixed,omitempty"`
}

// EcosystemSpecific lists the affected packages and symbols.
type EcosystemSpecific struct {
	Packages []Package `json:"imports,omitempty"`
}

// Package is an affected package, optionally limited to platforms and
// symbols.
type Package struct {
	Path    string   `json:"path,omitempty"`
	GOOS    []string `json:"goos,omitempty"`
	GOARCH  []string `json:"goarch,omitempty"`
	Symbols []string `json:"symbols,omitempty"`
}

// Reference is a link with more information.
type Reference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// Credit names who found or fixed the vulnerability.
type Credit struct {
	Name string `json:"name"`
}

// DatabaseSpecific holds the Go database's own fields.
type DatabaseSpecific struct {
	URL          string `json:"url,omitempty"`
	ReviewStatus string `json:"review_status,omitempty"`
}

const (
	ecosystemGo = "Go"
	rangeSemver = "SEMVER"
)

// idPattern keeps IDs safe to use as file names and URL path elements.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// EntryError reports an OSV entry that cannot be loaded.
type EntryError struct {
	File string // where the entry came from
	ID   string // the entry's ID, if known
	Err  error
}

func (e *EntryError) Error() string {
	subject := e.File
	if e.ID != "" {
		subject += " (" + e.ID + ")"
	}
	return subject + ": " + e.Err.Error()
}

func (e *EntryError) Unwrap() error { return e.Err }

// parseEntry decodes and normalizes one OSV file. It returns (nil, nil)
// for an entry that affects no Go module (a multi-ecosystem feed).
//
// Normalization keeps only affected modules of the Go ecosystem, strips a
// "v" prefix from range versions (the OSV form has none), and rejects what
// would make govulncheck or the index misread the entry: a missing or
// unsafe ID, an invalid version in a SEMVER range, an unknown review
// status.
func parseEntry(file string, data []byte) (e *Entry, err error) {
	e = new(Entry)
	defer func() {
		if err != nil {
			id := ""
			if e != nil {
				id = e.ID
			}
			err = &EntryError{File: file, ID: id, Err: err}
		}
	}()
	if err := json.Unmarshal(data, e); err != nil {
		return nil, fmt.Errorf("decoding OSV: %w", err)
	}
	if err := normalizeEntry(e); err != nil {
		return e, err
	}
	if len(e.Affected) == 0 {
		return nil, nil
	}
	return e, nil
}

// normalizeEntry is idempotent and writes nothing when e is already
// normalized.
func normalizeEntry(e *Entry) error {
	if !idPattern.MatchString(e.ID) {
		return fmt.Errorf("invalid id %q", e.ID)
	}
	if ds := e.DatabaseSpecific; ds != nil {
		switch ds.ReviewStatus {
		case "", ReviewStatusReviewed, ReviewStatusUnreviewed:
		default:
			return fmt.Errorf("unknown review_status %q", ds.ReviewStatus)
		}
		if *ds == (DatabaseSpecific{}) {
			e.DatabaseSpecific = nil
		}
	}
	var keep []Affected
	for _, a := range e.Affected {
		if a.Module.Ecosystem != ecosystemGo {
			continue
		}
		if a.Module.Path == "" {
			return fmt.Errorf("affected module without a name")
		}
		for ri, r := range a.Ranges {
			if r.Type != rangeSemver {
				continue
			}
			for ei, ev := range r.Events {
				switch {
				case ev.Introduced != "" && ev.Fixed != "":
					return fmt.Errorf("%s: range event has both introduced and fixed", a.Module.Path)
				case ev.Introduced == "0":
				case ev.Introduced != "":
					v, ok := osvVersion(ev.Introduced)
					if !ok {
						return fmt.Errorf("%s: invalid introduced version %q", a.Module.Path, ev.Introduced)
					}
					if v = strings.TrimPrefix(v, "v"); v != ev.Introduced {
						a.Ranges[ri].Events[ei].Introduced = v
					}
				case ev.Fixed != "":
					v, ok := osvVersion(ev.Fixed)
					if !ok {
						return fmt.Errorf("%s: invalid fixed version %q", a.Module.Path, ev.Fixed)
					}
					if v = strings.TrimPrefix(v, "v"); v != ev.Fixed {
						a.Ranges[ri].Events[ei].Fixed = v
					}
				default:
					return fmt.Errorf("%s: empty range event", a.Module.Path)
				}
			}
		}
		keep = append(keep, a)
	}
	// Assign only on change: normalizing an already normalized entry
	// (shared between snapshots) must not write.
	if len(keep) != len(e.Affected) {
		e.Affected = keep
	}
	return nil
}
