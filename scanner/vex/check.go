package vex

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Error is a problem with a VEX document: it prints as
// "file: statements[3].products[0]: cause".
type Error struct {
	// File is the document's file; "" when it was not read from one.
	File string
	// Field locates the problem inside the document, e.g.
	// "statements[3]" or "statements[0].products[1].subcomponents[0]";
	// "" means the document as a whole.
	Field string
	Err   error
}

func (e *Error) Error() string {
	var parts []string
	if e.File != "" {
		parts = append(parts, e.File)
	}
	if e.Field != "" {
		parts = append(parts, e.Field)
	}
	return strings.Join(append(parts, e.Err.Error()), ": ")
}

func (e *Error) Unwrap() error { return e.Err }

// CheckDocument validates d against OpenVEX v0.2.0 as modgate relies on
// it. It returns nil when d is valid, else every problem found, each an
// [*Error], joined with [errors.Join].
//
// Required: the v0.2.0 @context, @id, author, an RFC 3339 timestamp, a
// version of at least 1; for each statement a vulnerability name, a
// known status, a known justification if any, a justification or an
// impact statement for not_affected, at least one product identified by
// @id or identifiers, and parsable times. A pkg:golang purl anywhere must
// parse. Two deliberate leniencies: a document without statements is
// accepted (it says nothing; the schema asks for at least one), and an
// affected statement without an action statement is accepted
// (govulncheck writes them).
func CheckDocument(d *Document) error {
	var errs []error
	for _, e := range problems(d) {
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// problems lists what is wrong with d.
func problems(d *Document) []*Error {
	var errs []*Error
	add := func(field, format string, args ...any) {
		errs = append(errs, &Error{Field: field, Err: fmt.Errorf(format, args...)})
	}
	switch {
	case d.Context == "":
		add("", "@context is missing: not an OpenVEX document")
	case strings.TrimSuffix(d.Context, "/") != Context:
		add("", "@context %q: want %q (OpenVEX v0.2.0)", d.Context, Context)
	}
	if d.ID == "" {
		add("", "@id is missing")
	}
	if d.Author == "" {
		add("", "author is missing")
	}
	if d.Timestamp == "" {
		add("", "timestamp is missing")
	}
	for _, e := range checkTimes("", map[string]string{"timestamp": d.Timestamp, "last_updated": d.LastUpdated}) {
		errs = append(errs, e)
	}
	if d.Version < 1 {
		add("", "version %d: want 1 or more", d.Version)
	}
	for i := range d.Statements {
		errs = append(errs, checkStatement(fmt.Sprintf("statements[%d]", i), &d.Statements[i])...)
	}
	return errs
}

func checkStatement(field string, s *DocumentStatement) []*Error {
	var errs []*Error
	add := func(format string, args ...any) {
		errs = append(errs, &Error{Field: field, Err: fmt.Errorf(format, args...)})
	}
	if s.Vulnerability.Name == "" {
		add("vulnerability name is missing")
	}
	switch {
	case s.Status == "":
		add("status is missing")
	case !s.Status.Valid():
		add("unknown status %q (want not_affected, affected, fixed or under_investigation)", s.Status)
	}
	if s.Justification != "" && !s.Justification.Valid() {
		add("unknown justification %q", s.Justification)
	}
	if s.Status == StatusNotAffected && s.Justification == "" && s.ImpactStatement == "" {
		add("not_affected needs a justification or an impact_statement")
	}
	errs = append(errs, checkTimes(field, map[string]string{"timestamp": s.Timestamp,
		"last_updated": s.LastUpdated, "action_statement_timestamp": s.ActionStatementTimestamp})...)
	if len(s.Products) == 0 {
		add("no products: a statement must name what it applies to")
	}
	for j := range s.Products {
		pf := fmt.Sprintf("%s.products[%d]", field, j)
		errs = append(errs, checkComponent(pf, &s.Products[j].Component)...)
		for k := range s.Products[j].Subcomponents {
			errs = append(errs, checkComponent(fmt.Sprintf("%s.subcomponents[%d]", pf, k), &s.Products[j].Subcomponents[k])...)
		}
	}
	return errs
}

// checkComponent requires an identification and parsable Go purls.
func checkComponent(field string, c *Component) []*Error {
	if c.ID == "" && len(c.Identifiers) == 0 {
		return []*Error{{Field: field, Err: errors.New("neither @id nor identifiers")}}
	}
	var errs []*Error
	for _, p := range []string{c.ID, c.Identifiers["purl"]} {
		if !isGoPURL(p) {
			continue
		}
		if _, err := ParsePURL(p); err != nil {
			errs = append(errs, &Error{Field: field, Err: err})
		}
	}
	return errs
}

// checkTimes parses each non-empty time, in a stable order.
func checkTimes(field string, times map[string]string) []*Error {
	var errs []*Error
	for _, name := range []string{"timestamp", "last_updated", "action_statement_timestamp"} {
		v := times[name]
		if v == "" {
			continue
		}
		if _, err := parseTime(v); err != nil {
			errs = append(errs, &Error{Field: field, Err: fmt.Errorf("%s %q is not an RFC 3339 time", name, v)})
		}
	}
	return errs
}

func parseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339, s) }

// statementTime is when s was known to be true: its own last_updated or
// timestamp, whichever is later, else its document's. The document has
// been checked, so the times parse.
func statementTime(d *Document, s *DocumentStatement) time.Time {
	if t := latest(s.Timestamp, s.LastUpdated); !t.IsZero() {
		return t
	}
	return latest(d.Timestamp, d.LastUpdated)
}

func latest(times ...string) time.Time {
	var best time.Time
	for _, v := range times {
		if t, err := parseTime(v); err == nil && t.After(best) {
			best = t
		}
	}
	return best
}
