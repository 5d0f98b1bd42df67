// Package govulncheck runs govulncheck in-process (golang.org/x/vuln/scan)
// against a module directory and turns its JSON message stream into typed
// findings for the CI check.
//
// The database is always given explicitly (normally modgate's own, as a
// file:// directory written by vulndb.Snapshot.Build or modgate's /vulndb/
// URL), so a scan never reaches the public database.
//
// Stream semantics (golang.org/x/vuln/internal/govulncheck): govulncheck
// emits a finding per vulnerability and level as its analysis deepens — a
// module-level finding (trace with only a module), then package-level
// (trace with a package), then symbol-level (trace from the vulnerable
// symbol to the entry point). [Result.Vulns] folds them into one [Vuln]
// per vulnerability and module with the deepest level reached. With
// -format json govulncheck exits 0 even when it finds vulnerabilities, so
// findings are read from the stream, never inferred from the exit code.
//
// The package decides nothing: whether a finding fails CI is policy.
package govulncheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"golang.org/x/vuln/scan"

	"github.com/modgate/modgate/scanner/vulndb"
)

// Level is how deep govulncheck analyzes.
type Level string

// Scan levels.
const (
	LevelModule  Level = "module"
	LevelPackage Level = "package"
	LevelSymbol  Level = "symbol"
)

// Options configures a scan.
type Options struct {
	// DB is the vulnerability database URL: file:///abs/dir or
	// http(s)://host/path. Required.
	DB string
	// Dir is the directory of the module to scan. Required.
	Dir string
	// Patterns are the package patterns. Empty means "./...". Ignored at
	// LevelModule, which scans the whole module graph.
	Patterns []string
	// Level is the analysis depth. Empty means LevelSymbol.
	Level Level
	// Test includes test files in the analysis.
	Test bool
	// Tags are build tags.
	Tags []string
	// Env is the environment of the go command govulncheck runs
	// (GOFLAGS, GOPROXY, GOOS, ...). GOVERSION in Env overrides the Go
	// version whose standard library is checked. Nil means os.Environ().
	Env []string
}

// Validate reports the first invalid field.
func (o *Options) Validate() error {
	switch {
	case o.DB == "":
		return errors.New("govulncheck: DB is required")
	case !strings.HasPrefix(o.DB, "file://") && !strings.HasPrefix(o.DB, "http://") && !strings.HasPrefix(o.DB, "https://"):
		return fmt.Errorf("govulncheck: DB %q is not a file:// or http(s):// URL", o.DB)
	case o.Dir == "":
		return errors.New("govulncheck: Dir is required")
	}
	switch o.Level {
	case "", LevelModule, LevelPackage, LevelSymbol:
	default:
		return fmt.Errorf("govulncheck: unknown Level %q", o.Level)
	}
	return nil
}

func (o *Options) args() []string {
	level := o.Level
	if level == "" {
		level = LevelSymbol
	}
	args := []string{"-db", o.DB, "-format", "json", "-C", o.Dir, "-scan", string(level)}
	if o.Test {
		args = append(args, "-test")
	}
	if len(o.Tags) > 0 {
		args = append(args, "-tags", strings.Join(o.Tags, ","))
	}
	if level != LevelModule {
		if len(o.Patterns) == 0 {
			args = append(args, "./...")
		} else {
			args = append(args, o.Patterns...)
		}
	}
	return args
}

// ScanError is a scan that did not complete.
type ScanError struct {
	Dir    string
	Stderr string // govulncheck's diagnostics, trimmed
	Err    error
}

func (e *ScanError) Error() string {
	msg := "govulncheck " + e.Dir + ": " + e.Err.Error()
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

func (e *ScanError) Unwrap() error { return e.Err }

// Scan runs govulncheck with opts and returns its parsed result.
func Scan(ctx context.Context, opts Options) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := scan.Command(ctx, opts.args()...)
	cmd.Stdin = strings.NewReader("")
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.Env = opts.Env
	if err := cmd.Start(); err != nil {
		return nil, &ScanError{Dir: opts.Dir, Err: err}
	}
	if err := cmd.Wait(); err != nil {
		return nil, &ScanError{Dir: opts.Dir, Stderr: strings.TrimSpace(stderr.String()), Err: err}
	}
	res, err := Parse(&stdout)
	if err != nil {
		return nil, &ScanError{Dir: opts.Dir, Err: err}
	}
	return res, nil
}

// Result is a parsed govulncheck JSON stream.
type Result struct {
	Config Config
	// Modules are the modules scanned (the SBOM message), including the
	// "stdlib" pseudo-module.
	Modules []Module
	// OSVs are the entries govulncheck considered, by ID.
	OSVs map[string]*vulndb.Entry
	// Findings are the raw findings in stream order.
	Findings []Finding
}

// Config is the stream's config message.
type Config struct {
	ProtocolVersion string     `json:"protocol_version"`
	ScannerName     string     `json:"scanner_name,omitempty"`
	ScannerVersion  string     `json:"scanner_version,omitempty"`
	DB              string     `json:"db,omitempty"`
	DBLastModified  *time.Time `json:"db_last_modified,omitempty"`
	GoVersion       string     `json:"go_version,omitempty"`
	ScanLevel       Level      `json:"scan_level,omitempty"`
	ScanMode        string     `json:"scan_mode,omitempty"`
}

// Module is a module in the scanned build.
type Module struct {
	Path    string `json:"path,omitempty"`
	Version string `json:"version,omitempty"`
}

// Depth is how far a vulnerability reaches into the scanned code.
type Depth int

// Depths, from shallowest to deepest.
const (
	// DepthRequired: the vulnerable module is in the build but no
	// vulnerable package is imported (or the scan was module-level).
	DepthRequired Depth = iota + 1
	// DepthImported: a vulnerable package is imported but no vulnerable
	// symbol is reachable (or the scan was package-level).
	DepthImported
	// DepthCalled: a vulnerable symbol is reachable from the code.
	DepthCalled
)

func (d Depth) String() string {
	switch d {
	case DepthRequired:
		return "required"
	case DepthImported:
		return "imported"
	case DepthCalled:
		return "called"
	}
	return fmt.Sprintf("Depth(%d)", int(d))
}

// MarshalText renders d as its name.
func (d Depth) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Frame is one frame of a trace.
type Frame struct {
	// Module is the module path ("stdlib" for the standard library).
	Module   string    `json:"module"`
	Version  string    `json:"version,omitempty"`
	Package  string    `json:"package,omitempty"`
	Function string    `json:"function,omitempty"`
	Receiver string    `json:"receiver,omitempty"`
	Position *Position `json:"position,omitempty"`
}

// Symbol returns "Receiver.Function" or "Function".
func (f Frame) Symbol() string {
	if f.Receiver != "" {
		return strings.TrimPrefix(f.Receiver, "*") + "." + f.Function
	}
	return f.Function
}

// Position is a source position, relative to the module of the frame.
type Position struct {
	Filename string `json:"filename,omitempty"`
	Offset   int    `json:"offset"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
}

// Finding is one finding message.
type Finding struct {
	// ID is the OSV ID; OSV the entry (nil if the stream lacked it).
	ID  string
	OSV *vulndb.Entry
	// Module and Version are the vulnerable module and the version in
	// the build.
	Module, Version string
	// Fixed is the version fixing it ("" if none), as govulncheck
	// reports: "vX.Y.Z", also for the standard library.
	Fixed string
	Depth Depth
	// Package is the vulnerable package (DepthImported, DepthCalled).
	Package string
	// Trace runs from the vulnerable symbol to the entry point in the
	// scanned code (DepthCalled); for shallower findings it is the single
	// module or package frame.
	Trace []Frame
}

// message mirrors govulncheck's stream message.
type message struct {
	Config *Config `json:"config,omitempty"`
	SBOM   *struct {
		GoVersion string   `json:"go_version,omitempty"`
		Modules   []Module `json:"modules,omitempty"`
	} `json:"SBOM,omitempty"`
	OSV     *vulndb.Entry `json:"osv,omitempty"`
	Finding *struct {
		OSV          string  `json:"osv,omitempty"`
		FixedVersion string  `json:"fixed_version,omitempty"`
		Trace        []Frame `json:"trace,omitempty"`
	} `json:"finding,omitempty"`
}

// Parse reads a govulncheck JSON stream (-format json).
func Parse(r io.Reader) (*Result, error) {
	res := &Result{OSVs: make(map[string]*vulndb.Entry)}
	dec := json.NewDecoder(r)
	var pending []int // findings seen before their OSV message
	for {
		var m message
		err := dec.Decode(&m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("decoding govulncheck output: %w", err)
		}
		switch {
		case m.Config != nil:
			res.Config = *m.Config
		case m.SBOM != nil:
			res.Modules = m.SBOM.Modules
		case m.OSV != nil:
			res.OSVs[m.OSV.ID] = m.OSV
		case m.Finding != nil:
			f := m.Finding
			if len(f.Trace) == 0 {
				return nil, fmt.Errorf("decoding govulncheck output: finding for %s has no trace", f.OSV)
			}
			top := f.Trace[0]
			fd := Finding{
				ID:      f.OSV,
				Module:  top.Module,
				Version: top.Version,
				Fixed:   f.FixedVersion,
				Package: top.Package,
				Trace:   f.Trace,
			}
			switch {
			case top.Function != "":
				fd.Depth = DepthCalled
			case top.Package != "":
				fd.Depth = DepthImported
			default:
				fd.Depth = DepthRequired
			}
			pending = append(pending, len(res.Findings))
			res.Findings = append(res.Findings, fd)
		}
	}
	for _, i := range pending {
		res.Findings[i].OSV = res.OSVs[res.Findings[i].ID]
	}
	return res, nil
}

// Vuln is one vulnerability in one module, with every finding about it
// folded in.
type Vuln struct {
	ID              string
	OSV             *vulndb.Entry
	Module, Version string
	Fixed           string
	// Depth is the deepest level any finding reached.
	Depth Depth
	// Packages are the vulnerable packages imported, sorted.
	Packages []string
	// Traces are the call stacks reaching vulnerable symbols
	// (DepthCalled only).
	Traces [][]Frame
}

// Vulns folds the findings into one Vuln per (ID, module), sorted by ID
// then module.
func (r *Result) Vulns() []Vuln {
	type key struct{ id, mod string }
	idx := make(map[key]int)
	var vs []Vuln
	for _, f := range r.Findings {
		k := key{f.ID, f.Module}
		i, ok := idx[k]
		if !ok {
			i = len(vs)
			idx[k] = i
			vs = append(vs, Vuln{ID: f.ID, OSV: f.OSV, Module: f.Module, Version: f.Version, Fixed: f.Fixed})
		}
		v := &vs[i]
		if f.Depth > v.Depth {
			v.Depth = f.Depth
		}
		if f.Package != "" && !slices.Contains(v.Packages, f.Package) {
			v.Packages = append(v.Packages, f.Package)
		}
		if f.Depth == DepthCalled {
			v.Traces = append(v.Traces, f.Trace)
		}
		if v.Fixed == "" {
			v.Fixed = f.Fixed
		}
	}
	for i := range vs {
		slices.Sort(vs[i].Packages)
	}
	slices.SortFunc(vs, func(a, b Vuln) int {
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return strings.Compare(a.Module, b.Module)
	})
	return vs
}
