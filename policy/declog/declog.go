// Package declog writes and reads modgate's decision log: one JSON object
// per line, in the shape of OPA's decision logs, describing what the policy
// decided and why. The policy engine writes it through a [Log]; `modgate
// policy report` reads it through a [Summarizer]. The package knows nothing
// about OPA: the engine hands it pre-encoded JSON for the parts it owns.
//
// # Records
//
// A decision record describes one decision about one module version (a
// .info, .mod or .zip request, or a candidate decided on its own):
//
//	{"decision_id":"9f0c1e2a3b4c5d6e-42","path":"modgate/decision",
//	 "input":{"module":"example.com/m","version":"v1.0.1","kind":"zip",...},
//	 "result":{"allowed":false,"deny":[{"rule":"retracted","msg":"...","fix":"..."}],"warn":[],"audit":[]},
//	 "bundles":{"modgate":{"revision":"sha256:3f1a..."}},"policy_revision":"sha256:3f1a...",
//	 "timestamp":"2025-01-04T00:00:00.123Z","requested_by":"alice",
//	 "vulndb_snapshot":"2025-01-03T12:00:00Z","sample_rate":1,
//	 "metrics":{"timer_modgate_decide_ns":84211}}
//
// A failed decision has "error" (and usually no "result"); a decision
// served from the cache has "cached":true instead of "metrics".
//
// A listing record describes one @v/list or @latest request with all its
// candidate versions, instead of one decision record per candidate:
//
//	{"decision_id":"9f0c1e2a3b4c5d6e-43","kind":"latest","path":"modgate/decision",
//	 "module":"example.com/m","requested_by":"alice",
//	 "candidates":{"allowed":["v1.0.0","v1.2.0"],
//	   "denied":[{"version":"v1.3.0","rules":["cooldown"]}],
//	   "audit":[{"version":"v1.2.0","rules":["licenses"]}],"warn":[]},
//	 "chosen":"v1.2.0",
//	 "bundles":{"modgate":{"revision":"sha256:3f1a..."}},"policy_revision":"sha256:3f1a...",
//	 "timestamp":"2025-01-04T00:00:00.456Z","vulndb_snapshot":"2025-01-03T12:00:00Z",
//	 "sample_rate":1,"metrics":{"timer_modgate_decide_ns":120551}}
//
// "kind" is "list" or "latest"; decision records have no top-level "kind"
// (the artifact kind is input.kind). "allowed" lists every version served,
// including those with audit or warn findings; "denied" lists the versions
// withheld; "audit" and "warn" list the versions with would-be denials
// (rules in audit mode) and warnings, allowed or not. "chosen" (latest
// only) is the version answered, "" when none was allowed.
//
// Every record carries "policy_revision" (the digest of the rules, data
// and configuration in force), "bundles" (the revision of each policy
// bundle), "vulndb_snapshot" and "sample_rate", the probability with which
// a record like it was kept: a report counts each record 1/sample_rate
// times.
//
// # Invariants
//
//   - A record is encoded into the Log's buffer and written with a single
//     Write call under the Log's lock, so records never interleave or
//     split, and rotation only happens between records. After a short
//     write the next record starts on a new line, so a torn record costs
//     one unparsable line, never the record after it.
//   - Rotation renames the file to path.1 (older backups shift up, the
//     one beyond max_backups is dropped) and reopens path. If any step
//     fails the current file stays in use, so no record is lost.
//   - Sampling drops only clean records: allowed, without deny, warn or
//     audit findings, and not errors. Dropped records are counted.
//   - Writing never fails the caller: failures are counted, and logged
//     once until the log works again.
//   - One process writes one log file; the Log serializes its own writers
//     but not other processes.
package declog

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"
)

// Listing kinds.
const (
	KindList   = "list"
	KindLatest = "latest"
)

// DefaultMaxBackups is the number of rotated files kept when
// Options.MaxBackups is 0.
const DefaultMaxBackups = 5

// Decision is one decision about one module version; see the package doc
// for its JSON form.
type Decision struct {
	// ID is the decision ID (decision_id).
	ID string
	// Input is the JSON input document; nil omits the field.
	Input []byte
	// Result is the JSON result ({"allowed","deny","warn","audit",...});
	// nil omits the field.
	Result []byte
	// Clean reports that the result allowed the version without any deny,
	// warn or audit finding. Only clean records are sampled; the zero
	// value (false) is always recorded.
	Clean bool
	// Err is why the decision failed; nil for none. A record with an
	// error is always recorded.
	Err error
	// Bundles is the JSON bundles object ({"name":{"revision":"..."}});
	// nil omits the field.
	Bundles []byte
	// PolicyRevision is the digest of the policy in force.
	PolicyRevision string
	// Time is when the decision was made (timestamp).
	Time time.Time
	// Client is the requester (requested_by); "" when unknown.
	Client string
	// VulnDB is the vulnerability database snapshot (vulndb_snapshot).
	VulnDB string
	// Cached reports that the decision came from the decision cache.
	Cached bool
	// EvalNS is how long an uncached decision took; 0 omits the metrics.
	EvalNS int64
}

// Listing is one @v/list or @latest request and the decisions about its
// candidate versions; see the package doc for its JSON form.
type Listing struct {
	// ID is the decision ID (decision_id).
	ID string
	// Kind is [KindList] or [KindLatest].
	Kind string
	// Module is the module path.
	Module string
	// Client is the requester (requested_by); "" when unknown.
	Client string
	// Time is when the request was decided (timestamp).
	Time time.Time
	// Allowed lists every version served, including those in Audit and
	// Warn.
	Allowed []string
	// Denied lists the versions withheld and the rules that denied each.
	Denied []Candidate
	// Audit lists the versions with would-be denials (rules in audit
	// mode), allowed or not.
	Audit []Candidate
	// Warn lists the versions with warnings, allowed or not.
	Warn []Candidate
	// Chosen is the version @latest answered, "" when none was allowed.
	// Written for KindLatest only.
	Chosen string
	// Err is why the request's decisions failed; nil for none.
	Err error
	// Bundles is the JSON bundles object; nil omits the field.
	Bundles []byte
	// PolicyRevision is the digest of the policy in force.
	PolicyRevision string
	// VulnDB is the vulnerability database snapshot (vulndb_snapshot).
	VulnDB string
	// EvalNS is how long deciding the candidates took; 0 omits the
	// metrics.
	EvalNS int64
}

// Candidate is one version of a listing and the rules that found something
// about it.
type Candidate struct {
	Version string   `json:"version"`
	Rules   []string `json:"rules"`
}

// clean reports whether sampling may drop l.
func (l *Listing) clean() bool {
	return l.Err == nil && len(l.Denied) == 0 && len(l.Audit) == 0 && len(l.Warn) == 0
}

// Counter is the part of a Prometheus counter the Log uses.
type Counter interface{ Inc() }

type nopCounter struct{}

func (nopCounter) Inc() {}

// Options configures [Open].
type Options struct {
	// Path is the destination: a file, appended to and created if
	// missing; "-" for Stdout; "" for no log.
	Path string
	// Writer, when non-nil, receives the records instead of Path,
	// without rotation.
	Writer io.Writer
	// Stdout is where Path "-" writes; nil means os.Stdout.
	Stdout io.Writer
	// MaxSize rotates the file before a record would take it above this
	// many bytes (a larger record gets a file of its own). 0 never
	// rotates. Only files rotate.
	MaxSize int64
	// MaxBackups is how many rotated files (Path.1 newest ... Path.N
	// oldest) are kept. 0 means [DefaultMaxBackups].
	MaxBackups int
	// SampleAllowed is the fraction of clean records written, in [0, 1].
	// Nil means 1: every record.
	SampleAllowed *float64
	// Rand returns pseudo-random numbers in [0, 1) for sampling. It is
	// called without the Log's lock held, so it must be safe for
	// concurrent use. Nil means math/rand/v2.Float64.
	Rand func() float64
	// Logger receives the log's own failures, once until the log works
	// again; nil discards them.
	Logger *slog.Logger
	// SampledOut counts records dropped by sampling; nil counts nothing.
	SampledOut Counter
	// Errors counts failed writes (each loses its record) and failed
	// rotations (which lose nothing); nil counts nothing.
	Errors Counter
	// Rotations counts rotations; nil counts nothing.
	Rotations Counter
}

// Log writes decision and listing records. A nil *Log discards them. It is
// safe for concurrent use.
type Log struct {
	rate       float64 // SampleAllowed
	rand       func() float64
	logger     *slog.Logger
	sampledOut Counter
	errors     Counter
	rotations  Counter
	path       string // Options.Path, for rotation and messages
	maxSize    int64
	maxBackups int

	mu  sync.Mutex // guards everything below, and serializes writes
	buf []byte     // the record being written, reused
	w   io.Writer
	// file is the open log file when path names one; it is w.
	file *os.File
	// size is what the log file holds; detached means it has been
	// renamed away but its successor could not be opened yet.
	size     int64
	detached bool
	torn     bool // the last write was partial: end its line first
	closed   bool
	// writeFailing and rotateFailing mark failure episodes, so each
	// is logged once; lost counts the records of the current one.
	writeFailing, rotateFailing bool
	lost                        int64
}

// Open returns a Log for opts, or a nil *Log (which discards records) when
// opts names no destination. The file, if any, is opened now; an error
// opening it or an invalid option is returned.
func Open(opts Options) (*Log, error) {
	rate := 1.0
	if opts.SampleAllowed != nil {
		rate = *opts.SampleAllowed
		if !(rate >= 0 && rate <= 1) {
			return nil, fmt.Errorf("decision log: sample rate %v: want a fraction between 0 and 1", rate)
		}
	}
	if opts.MaxSize < 0 || opts.MaxBackups < 0 {
		return nil, fmt.Errorf("decision log: max size %d and max backups %d must not be negative", opts.MaxSize, opts.MaxBackups)
	}
	l := &Log{
		rate:       rate,
		rand:       opts.Rand,
		logger:     opts.Logger,
		sampledOut: opts.SampledOut,
		errors:     opts.Errors,
		rotations:  opts.Rotations,
		path:       opts.Path,
		maxBackups: opts.MaxBackups,
	}
	if l.rand == nil {
		l.rand = rand.Float64
	}
	if l.logger == nil {
		l.logger = slog.New(slog.DiscardHandler)
	}
	for _, c := range []*Counter{&l.sampledOut, &l.errors, &l.rotations} {
		if *c == nil {
			*c = nopCounter{}
		}
	}
	if l.maxBackups == 0 {
		l.maxBackups = DefaultMaxBackups
	}
	switch {
	case opts.Writer != nil:
		l.w, l.path = opts.Writer, ""
	case opts.Path == "-":
		l.w = opts.Stdout
		if l.w == nil {
			l.w = os.Stdout
		}
	case opts.Path == "":
		return nil, nil
	default:
		f, size, err := openAppend(opts.Path)
		if err != nil {
			return nil, err
		}
		l.w, l.file, l.size, l.maxSize = f, f, size, opts.MaxSize
	}
	return l, nil
}

// Decision records d, unless sampling drops it.
func (l *Log) Decision(d *Decision) {
	if l == nil {
		return
	}
	rate := 1.0
	if d.Clean && d.Err == nil {
		if !l.keep() {
			l.sampledOut.Inc()
			return
		}
		rate = l.rate
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = appendDecision(l.buf[:0], d, rate)
	l.emit()
}

// Listing records r, unless sampling drops it.
func (l *Log) Listing(r *Listing) {
	if l == nil {
		return
	}
	rate := 1.0
	if r.clean() {
		if !l.keep() {
			l.sampledOut.Inc()
			return
		}
		rate = l.rate
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = appendListing(l.buf[:0], r, rate)
	l.emit()
}

// keep decides whether a clean record is written.
func (l *Log) keep() bool {
	return l.rate >= 1 || l.rand() < l.rate
}

// Close closes the log file. Records arriving afterwards are dropped.
func (l *Log) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.file != nil {
		if err := l.file.Close(); err != nil {
			return fmt.Errorf("closing decision log %s: %w", l.path, err)
		}
	}
	return nil
}

// maxKeptBuf bounds the buffer kept between records, so one huge record
// does not pin its memory.
const maxKeptBuf = 1 << 20

// emit writes l.buf as one record. l.mu is held.
func (l *Log) emit() {
	if l.closed {
		return
	}
	if l.torn {
		// A partial write left a fragment without its newline; end
		// that line so this record parses.
		n, err := l.w.Write([]byte{'\n'})
		l.size += int64(n)
		if err != nil {
			l.writeFailed(err)
			return
		}
		l.torn = false
	}
	if l.maxSize > 0 && l.size > 0 && l.size+int64(len(l.buf)) > l.maxSize {
		l.rotate()
	}
	n, err := l.w.Write(l.buf)
	l.size += int64(n)
	if cap(l.buf) > maxKeptBuf {
		l.buf = nil
	}
	if err != nil {
		l.torn = n > 0
		l.writeFailed(err)
		return
	}
	if l.writeFailing {
		l.writeFailing = false
		l.logger.Info("decision log: writing again", "path", l.path, "records_lost", l.lost)
		l.lost = 0
	}
}

// writeFailed counts a lost record and logs the first of a series. l.mu
// is held.
func (l *Log) writeFailed(err error) {
	l.errors.Inc()
	l.lost++
	if !l.writeFailing {
		l.writeFailing = true
		l.logger.Error("decision log: writing a record failed; decisions go on, further failures are only counted in modgate_policy_decision_log_errors_total",
			"path", l.path, "err", err)
	}
}
