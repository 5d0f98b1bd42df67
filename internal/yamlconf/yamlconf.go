// Package yamlconf decodes modgate's YAML configuration files and reports
// their problems all at once, each as "file:line: field: message". Every
// command's configuration (serve's modgate.yaml with its policy:, vulndb:
// and bot: sections, stand-alone policy files, a repository's
// .github/modgate.yaml) goes through it, so they all report alike.
//
// Invariants:
//
//   - Decoding does not stop at the first problem. Apart from syntax errors,
//     after which nothing is decoded, every unknown key (with a suggestion
//     when a known key is close), duplicate key and type mismatch is
//     reported, and every other field is still decoded, so validators can
//     report their own problems in the same pass.
//   - Values are decoded by gopkg.in/yaml.v3 itself, with its semantics
//     (defaults already in the destination survive absent keys, null
//     clears pointers, slices and maps). This package only adds the checks
//     yaml.v3's KnownFields mode stops at, and locations.
//   - A field is named by its YAML path: keys joined by ".", sequence
//     indexes as "[i]" ("policy.waivers[2].expires"). Validators return
//     [FieldError]s with such paths; [Doc.Locate] adds file and line.
package yamlconf

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is a problem at one place in a configuration file.
type Error struct {
	File  string
	Line  int    // 1-based; 0 when the problem has no line of its own
	Field string // YAML path of the field; "" for syntax errors
	Err   error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// FieldError is a problem in one field, named by its YAML path relative to
// the document validated (for example "waivers[2].expires"). Validators
// return it; they know the field but not the file, which [Doc.Locate]
// adds.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Err.Error()
	}
	return e.Field + ": " + e.Err.Error()
}

func (e *FieldError) Unwrap() error { return e.Err }

// Errorf returns a *FieldError for field with a formatted message (which
// may wrap an error with %w).
func Errorf(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Doc is a parsed configuration document, or one section of it. It keeps
// the YAML tree so that problems found after decoding, by a validator or
// later still, can be reported at their line. A nil *Doc stands for "no
// file": its Locate returns errors unchanged.
type Doc struct {
	file   string
	root   *yaml.Node // nil for an empty document
	line   int        // line of the section's key; 0 for a whole file
	prefix string     // path of root from the top of the file: "" or "key"
	name   string     // section name, also accepted as a leading path element
}

// Parse parses data, the contents of file (used in messages only),
// without decoding it. Its error is a syntax error: an *Error, with the
// line when yaml.v3 gives one.
func Parse(file string, data []byte) (*Doc, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, syntaxError(file, data, err)
	}
	d := &Doc{file: file}
	if len(n.Content) > 0 {
		d.root = n.Content[0]
	}
	return d, nil
}

// Decode parses data, the contents of file, and decodes it into dst; see
// [Doc.Decode]. The Doc is nil only when data does not parse.
func Decode(file string, data []byte, dst any) (*Doc, error) {
	d, err := Parse(file, data)
	if err != nil {
		return nil, err
	}
	return d, d.Decode(dst)
}

// Has reports whether d is a mapping with key at its top level.
func (d *Doc) Has(key string) bool {
	k, _ := lookup(d.root, key)
	return k != nil
}

// Section returns the document under d's top-level key, such as the
// policy: section of a modgate configuration file, whose fields are then
// reported as "policy.…". A file without that key is taken to hold just
// the section (a stand-alone policy file): Section returns it whole, its
// fields reported as spelled in it. Either way the section's Locate also
// accepts paths that start with the section's name ("policy.cache.size"
// as well as "cache.size"), so a validator may name its section or not.
func (d *Doc) Section(key string) *Doc {
	k, v := lookup(d.root, key)
	if k == nil {
		s := *d
		s.name = key
		return &s
	}
	return &Doc{file: d.file, root: v, line: k.Line, prefix: joinPath(d.prefix, key), name: key}
}

// Locate returns err with each *FieldError in it replaced by an *Error at
// the line of that field in d, or of its deepest ancestor present in d
// (the section's key, or no line, when none is). Errors are found in
// errors.Join trees and through wrappers (whose text is dropped: the
// location says more). The result is sorted: d's file first, by line,
// then other files' errors, then errors without a file. An err with no
// *FieldError in it, or a nil d, returns err unchanged.
func (d *Doc) Locate(err error) error {
	if d == nil {
		return err
	}
	errs := Split(err)
	changed := false
	for i, e := range errs {
		if fe, ok := e.(*FieldError); ok {
			errs[i] = d.locate(fe)
			changed = true
		}
	}
	if !changed {
		return err
	}
	return errors.Join(d.sorted(errs)...)
}

func (d *Doc) locate(fe *FieldError) *Error {
	rel := fe.Field
	if r, ok := strings.CutPrefix(rel, d.name); ok && d.name != "" && (r == "" || r[0] == '.' || r[0] == '[') {
		rel = strings.TrimPrefix(r, ".")
	}
	return &Error{File: d.file, Line: d.lineOf(rel), Field: joinPath(d.prefix, rel), Err: fe.Err}
}

var pathTokRE = regexp.MustCompile(`[^.\[\]]+|\[\d+\]`)

// lineOf returns the line of the field at path (relative to d.root), of
// its deepest ancestor in d, or d.line when not even the first element is
// in d. A key's line is that of the key, an element's that of its node.
func (d *Doc) lineOf(path string) int {
	n, line := d.root, d.line
	for _, tok := range pathTokRE.FindAllString(path, -1) {
		var next *yaml.Node
		var l int
		if i, ok := strings.CutPrefix(tok, "["); ok {
			idx, _ := strconv.Atoi(strings.TrimSuffix(i, "]"))
			if s := resolve(n); s != nil && s.Kind == yaml.SequenceNode && idx < len(s.Content) {
				next, l = s.Content[idx], s.Content[idx].Line
			}
		} else if k, v := lookup(n, tok); k != nil {
			next, l = v, k.Line
		}
		if next == nil {
			break
		}
		n, line = next, l
	}
	return line
}

// sorted orders errs stably: d's file by line, then the other files (in
// order of first appearance) by line, then errors with no file. Exact
// duplicates, such as one mistake in an anchor reached through two
// aliases, are dropped.
func (d *Doc) sorted(errs []error) []error {
	rank := map[string]int{d.file: 0}
	key := func(e error) (int, int) {
		var le *Error
		if !errors.As(e, &le) {
			return len(errs) + 1, 0
		}
		r, ok := rank[le.File]
		if !ok {
			r = len(rank)
			rank[le.File] = r
		}
		return r, le.Line
	}
	for _, e := range errs {
		key(e) // rank files in order of appearance before sorting moves them
	}
	slices.SortStableFunc(errs, func(a, b error) int {
		ra, la := key(a)
		rb, lb := key(b)
		if ra != rb {
			return ra - rb
		}
		return la - lb
	})
	seen := map[string]bool{}
	return slices.DeleteFunc(errs, func(e error) bool {
		dup := seen[e.Error()]
		seen[e.Error()] = true
		return dup
	})
}

// Split returns the errors joined in err: the leaves of errors.Join trees,
// looking through wrappers of field errors. It returns nil for nil.
func Split(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Split(e)...)
		}
		return out
	}
	switch err.(type) {
	case *FieldError, *Error:
		return []error{err}
	}
	var fe *FieldError
	if inner := errors.Unwrap(err); inner != nil && errors.As(inner, &fe) {
		return Split(inner)
	}
	return []error{err}
}

// Prefix returns err with prefix prepended to the path of each
// *FieldError in it, so a section's validator can be reused by the
// validator of the document holding the section:
// Prefix("policy", c.Policy.Validate()). Other errors are kept; an err
// with no *FieldError is returned unchanged.
func Prefix(prefix string, err error) error {
	errs := Split(err)
	changed := false
	for i, e := range errs {
		if fe, ok := e.(*FieldError); ok {
			errs[i] = &FieldError{Field: joinPath(prefix, fe.Field), Err: fe.Err}
			changed = true
		}
	}
	if !changed {
		return err
	}
	return errors.Join(errs...)
}

// joinPath appends a path (a key or an index) to a prefix path.
func joinPath(prefix, path string) string {
	switch {
	case prefix == "":
		return path
	case path == "":
		return prefix
	case path[0] == '[':
		return prefix + path
	}
	return prefix + "." + path
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// splitLine splits yaml.v3's "yaml: line N: msg" into N and msg (0 when
// the message has no line).
func splitLine(msg string) (int, string) {
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n, m[2]
	}
	return 0, strings.TrimPrefix(msg, "yaml: ")
}

// parserErrors are the messages of yaml.v3's parser (as opposed to its
// scanner), whose lines it counts from 0.
var parserErrors = map[string]bool{
	"did not find expected <document start>": true,
	"did not find expected node content":     true,
	"did not find expected key":              true,
	"did not find expected '-' indicator":    true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
}

// syntaxError turns a yaml.v3 parse error of data into an *Error with a
// 1-based line. yaml.v3 counts its parser's lines from 0 and its
// scanner's from 1, and leaves out a line 0; only its anchor errors have
// no position. The end of the input counts as its last line.
func syntaxError(file string, data []byte, err error) error {
	line, msg := splitLine(err.Error())
	switch {
	case parserErrors[msg]:
		line++
	case line == 0 && !strings.Contains(msg, "anchor"):
		line = 1
	}
	if n := bytes.Count(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) + 1; line > n {
		line = n
	}
	return &Error{File: file, Line: line, Err: errors.New(msg)}
}

// resolve follows an alias to its anchored node.
func resolve(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode {
		return n.Alias
	}
	return n
}

// isMerge reports whether k is the "<<" merge key.
func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "" || k.Tag == "!" || k.ShortTag() == "!!merge")
}

// mergeSources returns the mappings a "<<" value merges: one mapping or a
// sequence of them (through aliases). ok is false for anything else,
// which yaml.v3 rejects.
func mergeSources(v *yaml.Node) (srcs []*yaml.Node, ok bool) {
	v = resolve(v)
	switch {
	case v == nil:
		return nil, false
	case v.Kind == yaml.MappingNode:
		return []*yaml.Node{v}, true
	case v.Kind == yaml.SequenceNode:
		for _, e := range v.Content {
			if e = resolve(e); e == nil || e.Kind != yaml.MappingNode {
				return nil, false
			}
			srcs = append(srcs, e)
		}
		return srcs, true
	}
	return nil, false
}

// lookup returns the key and value nodes of key in mapping n, or in the
// mappings merged into it when n lacks the key itself.
func lookup(n *yaml.Node, key string) (k, v *yaml.Node) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	var merged []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch {
		case isMerge(n.Content[i]):
			merged = append(merged, n.Content[i+1])
		case n.Content[i].Value == key:
			return n.Content[i], n.Content[i+1]
		}
	}
	for _, m := range merged {
		srcs, _ := mergeSources(m)
		for _, s := range srcs {
			if k, v := lookup(s, key); k != nil {
				return k, v
			}
		}
	}
	return nil, nil
}
