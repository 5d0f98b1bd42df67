package declog

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// ReportVersion is the version of the [Report] JSON format.
const ReportVersion = 1

// Filter selects what a [Summarizer] counts.
type Filter struct {
	// Since drops records before this instant (and records without a
	// timestamp). Zero keeps all.
	Since time.Time
	// Rules keeps only findings of these rules. Nil keeps all.
	Rules []string
	// Module keeps only this module and the modules below it
	// ("example.com/org" matches "example.com/org/x", not
	// "example.com/organic"). "" keeps all.
	Module string
}

// Summarizer reads decision logs and counts their would-be denials: the
// deny and audit findings of decision records and the denied and audit
// candidates of listing records. The unit is a denial, one version refused
// (or, in audit mode, that would be refused) in one request, counted
// 1/sample_rate times. A Summarizer is not safe for concurrent use.
type Summarizer struct {
	filter Filter
	rules  map[string]bool // Filter.Rules; nil for all

	rep     Report
	modules map[string]*tally
	byRule  map[string]*tally
	clients map[string]*tally
	total   *tally
}

// tally accumulates one row.
type tally struct {
	deny, audit float64
	versions    map[string]bool // module@version
	modules     map[string]bool
	clients     map[string]bool
	rules       map[string]bool
	first, last time.Time
}

// NewSummarizer returns a Summarizer that counts what f selects.
func NewSummarizer(f Filter) *Summarizer {
	s := &Summarizer{
		filter:  f,
		modules: map[string]*tally{},
		byRule:  map[string]*tally{},
		clients: map[string]*tally{},
		total:   newTally(),
	}
	if f.Rules != nil {
		s.rules = map[string]bool{}
		for _, r := range f.Rules {
			s.rules[r] = true
		}
	}
	return s
}

// maxLine bounds one record; a longer line is an error.
const maxLine = 64 << 20

// maxSkippedAt bounds Report.SkippedAt.
const maxSkippedAt = 10

// ReadFile reads the decision log in file, decompressing it when its name
// ends in ".gz". Lines that are not decision records (a torn last line, a
// truncated gzip stream) are skipped and counted in the report.
func (s *Summarizer) ReadFile(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("reading decision log: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(file, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("reading decision log %s: %w", file, err)
		}
		defer zr.Close()
		r = zr
	}
	return s.Read(file, r)
}

// Read reads one decision log from r; name identifies it in the report.
func (s *Summarizer) Read(name string, r io.Reader) error {
	s.rep.Files = append(s.rep.Files, name)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if err := s.add(b); err != nil {
			s.skip(name, line, err)
		}
	}
	err := sc.Err()
	if errors.Is(err, io.ErrUnexpectedEOF) {
		// A gzip stream cut short, as a torn last line would be.
		s.skip(name, line+1, errors.New("compressed stream ends early"))
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading decision log %s: line %d: %w", name, line+1, err)
	}
	return nil
}

func (s *Summarizer) skip(name string, line int, err error) {
	s.rep.Skipped++
	if len(s.rep.SkippedAt) < maxSkippedAt {
		s.rep.SkippedAt = append(s.rep.SkippedAt, fmt.Sprintf("%s:%d: %v", name, line, err))
	}
}

// record is what a report reads of either record kind.
type record struct {
	ID     string `json:"decision_id"`
	Kind   string `json:"kind"`
	Module string `json:"module"`
	Input  *struct {
		Module  string `json:"module"`
		Version string `json:"version"`
	} `json:"input"`
	Result *struct {
		Deny  []struct{ Rule string } `json:"deny"`
		Audit []struct{ Rule string } `json:"audit"`
	} `json:"result"`
	Candidates *struct {
		Denied []Candidate `json:"denied"`
		Audit  []Candidate `json:"audit"`
	} `json:"candidates"`
	Error      string    `json:"error"`
	Timestamp  time.Time `json:"timestamp"`
	Client     string    `json:"requested_by"`
	SampleRate *float64  `json:"sample_rate"`
}

// add counts one line; an error means it is not a decision record.
func (s *Summarizer) add(line []byte) error {
	var rec record
	if err := json.Unmarshal(line, &rec); err != nil {
		return fmt.Errorf("not JSON (torn write?): %w", err)
	}
	listing := rec.Candidates != nil && (rec.Kind == KindList || rec.Kind == KindLatest)
	if rec.ID == "" || !listing && rec.Input == nil {
		return errors.New("not a decision record")
	}
	module := rec.Module
	if !listing {
		module = rec.Input.Module
	}
	if !s.filter.Since.IsZero() && rec.Timestamp.Before(s.filter.Since) || !s.moduleMatches(module) {
		return nil
	}
	w := 1.0
	if r := rec.SampleRate; r != nil && *r > 0 && *r < 1 {
		w = 1 / *r
		s.rep.Sampled = true
	}
	s.rep.Records++
	s.rep.Requests += w
	if listing {
		s.rep.Listings++
	} else {
		s.rep.Decisions++
	}
	if rec.Error != "" {
		s.rep.Errors++
	}
	s.rep.FirstSeen = earliest(s.rep.FirstSeen, rec.Timestamp)
	s.rep.LastSeen = latest(s.rep.LastSeen, rec.Timestamp)

	ev := event{module: module, client: rec.Client, t: rec.Timestamp, w: w}
	if listing {
		s.addCandidates(ev, rec.Candidates.Denied, rec.Candidates.Audit)
		return nil
	}
	if rec.Result == nil {
		return nil
	}
	ev.version = rec.Input.Version
	for _, f := range rec.Result.Deny {
		ev.deny = s.keepRule(ev.deny, f.Rule)
	}
	for _, f := range rec.Result.Audit {
		ev.audit = s.keepRule(ev.audit, f.Rule)
	}
	s.count(ev)
	return nil
}

// addCandidates counts a listing's candidates, each version a denial of
// its own. A candidate without rules counts under the rule "".
func (s *Summarizer) addCandidates(ev event, denied, audit []Candidate) {
	var events []*event
	byVersion := map[string]*event{}
	at := func(version string) *event {
		e := byVersion[version]
		if e == nil {
			e = &event{module: ev.module, version: version, client: ev.client, t: ev.t, w: ev.w}
			byVersion[version] = e
			events = append(events, e)
		}
		return e
	}
	for _, c := range denied {
		e := at(c.Version)
		for _, r := range rulesOrNone(c.Rules) {
			e.deny = s.keepRule(e.deny, r)
		}
	}
	for _, c := range audit {
		e := at(c.Version)
		for _, r := range rulesOrNone(c.Rules) {
			e.audit = s.keepRule(e.audit, r)
		}
	}
	for _, e := range events {
		s.count(*e)
	}
}

func rulesOrNone(rules []string) []string {
	if len(rules) == 0 {
		return []string{""}
	}
	return rules
}

// event is one version's findings in one record.
type event struct {
	module, version, client string
	t                       time.Time
	w                       float64
	deny, audit             []string // rule names, each once
}

// keepRule adds rule to rules unless the filter drops it or it is there.
func (s *Summarizer) keepRule(rules []string, rule string) []string {
	if s.rules != nil && !s.rules[rule] || slices.Contains(rules, rule) {
		return rules
	}
	return append(rules, rule)
}

func (s *Summarizer) moduleMatches(m string) bool {
	p := s.filter.Module
	return p == "" || m == p || strings.HasPrefix(m, strings.TrimSuffix(p, "/")+"/")
}

// count adds ev to the tallies: once per module and client (as a denial
// when any rule denied, else as an audit), once per rule.
func (s *Summarizer) count(ev event) {
	if len(ev.deny) == 0 && len(ev.audit) == 0 {
		return
	}
	denied := len(ev.deny) > 0
	for _, t := range []*tally{s.total, get(s.modules, ev.module), get(s.clients, ev.client)} {
		t.add(ev, denied)
	}
	for _, r := range ev.deny {
		get(s.byRule, r).add(ev, true)
	}
	for _, r := range ev.audit {
		if !slices.Contains(ev.deny, r) {
			get(s.byRule, r).add(ev, false)
		}
	}
}

func get(m map[string]*tally, k string) *tally {
	t := m[k]
	if t == nil {
		t = newTally()
		m[k] = t
	}
	return t
}

func newTally() *tally {
	return &tally{versions: map[string]bool{}, modules: map[string]bool{}, clients: map[string]bool{}, rules: map[string]bool{}}
}

func (t *tally) add(ev event, denied bool) {
	if denied {
		t.deny += ev.w
	} else {
		t.audit += ev.w
	}
	t.versions[ev.module+"@"+ev.version] = true
	t.modules[ev.module] = true
	t.clients[ev.client] = true
	for _, r := range ev.deny {
		t.rules[r] = true
	}
	for _, r := range ev.audit {
		t.rules[r] = true
	}
	t.first = earliest(t.first, ev.t)
	t.last = latest(t.last, ev.t)
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Report is a summary of would-be denials. Its JSON form is versioned by
// FormatVersion.
type Report struct {
	FormatVersion int      `json:"format_version"`
	Files         []string `json:"files"`
	// Records counts the decision records in scope (Filter.Since and
	// Filter.Module); Decisions and Listings split them by kind, and
	// Errors counts the failed ones.
	Records   int `json:"records"`
	Decisions int `json:"decisions"`
	Listings  int `json:"listings"`
	Errors    int `json:"errors"`
	// Requests estimates the requests behind Records, counting each
	// record 1/sample_rate times.
	Requests float64 `json:"requests"`
	// Sampled reports that some records were sampled.
	Sampled bool `json:"sampled"`
	// Skipped counts lines that were not decision records; SkippedAt
	// locates the first few.
	Skipped   int      `json:"skipped_lines"`
	SkippedAt []string `json:"skipped_at,omitempty"`
	// FirstSeen and LastSeen bound the records in scope.
	FirstSeen time.Time `json:"first_seen,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	// Total sums every denial.
	Total Row `json:"total"`
	// Modules, Rules and Clients are the top rows by denials; the
	// *Count fields say how many rows there were before the cut.
	Modules      []Row `json:"modules"`
	ModulesCount int   `json:"modules_count"`
	Rules        []Row `json:"rules"`
	RulesCount   int   `json:"rules_count"`
	Clients      []Row `json:"clients"`
	ClientsCount int   `json:"clients_count"`
}

// Row is the tally of one module, rule or client.
type Row struct {
	// Name is the module path, rule name or client ("" when the
	// requester was unknown).
	Name string `json:"name"`
	// Deny counts denials; Audit counts would-be denials of versions no
	// enforced rule denied.
	Deny  float64 `json:"deny"`
	Audit float64 `json:"audit"`
	// Versions counts distinct module versions, Modules distinct modules,
	// Clients distinct clients.
	Versions int `json:"versions"`
	Modules  int `json:"modules"`
	Clients  int `json:"clients"`
	// Rules lists, sorted, the rules in the row's denials (in a rule's
	// row: it and the rules that found something with it).
	Rules     []string  `json:"rules"`
	FirstSeen time.Time `json:"first_seen,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
}

// Report returns the summary so far, each table cut to its top rows (top
// <= 0 keeps every row).
func (s *Summarizer) Report(top int) *Report {
	rep := s.rep
	rep.FormatVersion = ReportVersion
	rep.Files = slices.Clone(rep.Files)
	rep.SkippedAt = slices.Clone(rep.SkippedAt)
	rep.Total = s.total.row("")
	rep.Modules, rep.ModulesCount = rows(s.modules, top)
	rep.Rules, rep.RulesCount = rows(s.byRule, top)
	rep.Clients, rep.ClientsCount = rows(s.clients, top)
	return &rep
}

func rows(m map[string]*tally, top int) ([]Row, int) {
	out := make([]Row, 0, len(m))
	for k, t := range m {
		out = append(out, t.row(k))
	}
	slices.SortFunc(out, func(a, b Row) int {
		return cmp.Or(
			cmp.Compare(b.Deny+b.Audit, a.Deny+a.Audit),
			cmp.Compare(b.Deny, a.Deny),
			strings.Compare(a.Name, b.Name))
	})
	n := len(out)
	if top > 0 && len(out) > top {
		out = out[:top]
	}
	return out, n
}

func (t *tally) row(name string) Row {
	r := Row{Name: name, Deny: t.deny, Audit: t.audit, Versions: len(t.versions), Modules: len(t.modules),
		Clients: len(t.clients), Rules: make([]string, 0, len(t.rules)), FirstSeen: t.first, LastSeen: t.last}
	for k := range t.rules {
		r.Rules = append(r.Rules, k)
	}
	slices.Sort(r.Rules)
	return r
}
