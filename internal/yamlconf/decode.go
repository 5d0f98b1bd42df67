package yamlconf

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Decode decodes d into dst, a non-nil pointer (usually to a struct
// holding defaults, which keys absent from d leave alone). It reports
// every unknown key (suggesting a known one when close), duplicate key and
// type mismatch as an *Error, sorted by line and joined with errors.Join;
// the fields without problems are decoded all the same.
//
// Decoding descends into structs (including yaml:",inline" ones), pointers,
// slices, arrays and maps. It does not descend into types implementing
// yaml.Unmarshaler: their UnmarshalYAML checks its own node. One that
// fails with an error other than a *yaml.TypeError is reported at its
// field, but stops yaml.v3, so fields after it keep their previous values.
func (d *Doc) Decode(dst any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return fmt.Errorf("yamlconf: Decode needs a non-nil pointer, not %T", dst)
	}
	if d.root == nil {
		return nil
	}
	dec := &decoder{doc: d, byLine: map[int][]place{}, walked: map[walkKey]bool{}, badKeys: map[int]bool{}}
	dec.walk(d.root, v.Type().Elem(), "")
	if err := decodeSafely(d.root, dst); err != nil {
		dec.yamlError(err)
	}
	return errors.Join(d.sorted(dec.errs)...)
}

// decodeSafely is n.Decode(dst), with a panic turned into an error:
// yaml.v3 v3.0.1 panics on some malformed documents (a list or mapping
// used as a key beside a merge key: go-yaml/yaml#895, #932), and a broken
// file must not crash modgate.
func decodeSafely(n *yaml.Node, dst any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: cannot decode the document: %v", r)
		}
	}()
	return n.Decode(dst)
}

// decoder checks one document against a Go type, alongside yaml.v3's
// decoding of it.
type decoder struct {
	doc  *Doc
	errs []error
	// byLine lists the fields seen at each line, so that yaml.v3's type
	// errors, which carry only a line, can name their field.
	byLine map[int][]place
	// walked holds anchored nodes already checked against a type, so a
	// mistake in an anchor is reported once, and aliases cannot make the
	// walk exponential.
	walked map[walkKey]bool
	// stopped is set when a check found an error that stops yaml.v3 (and
	// already reported it with its field).
	stopped bool
	// badKeys are the lines of keys reported as lists or mappings, where
	// yaml.v3's own errors would repeat them.
	badKeys map[int]bool
}

type place struct {
	n     *yaml.Node
	field string
	t     reflect.Type // nil for a mapping key
}

type walkKey struct {
	n *yaml.Node
	t reflect.Type
}

var (
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	obsoleteType    = reflect.TypeFor[interface{ UnmarshalYAML(func(any) error) error }]()
	durationType    = reflect.TypeFor[time.Duration]()
	nodeType        = reflect.TypeFor[yaml.Node]()
)

// walk checks node n against type t; field is n's path.
func (d *decoder) walk(n *yaml.Node, t reflect.Type, field string) {
	if n = resolve(n); n == nil {
		return
	}
	if n.Anchor != "" {
		if d.walked[walkKey{n, t}] {
			return
		}
		d.walked[walkKey{n, t}] = true
	}
	d.byLine[n.Line] = append(d.byLine[n.Line], place{n, field, t})
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nodeType {
		return // takes any YAML
	}
	if p := reflect.PointerTo(t); p.Implements(unmarshalerType) || p.Implements(obsoleteType) {
		d.unmarshaler(n, t, field)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		fields := fieldsOf(t)
		d.entries(n, t, field, func(k, v *yaml.Node, path string) {
			switch ft, ok := fields.types[k.Value]; {
			case ok:
				d.walk(v, ft, path)
			case fields.rest != nil:
				d.walk(v, fields.rest.Elem(), path)
			default:
				d.unknown(k, path, fields.names)
			}
		})
	case reflect.Map:
		d.entries(n, t, field, func(_, v *yaml.Node, path string) { d.walk(v, t.Elem(), path) })
	case reflect.Slice, reflect.Array:
		if n.Kind == yaml.SequenceNode {
			for i, e := range n.Content {
				d.walk(e, t.Elem(), fmt.Sprintf("%s[%d]", field, i))
			}
		}
	}
	// Other kinds are scalars (or interfaces taking anything), which
	// yaml.v3 checks while decoding.
}

// entries calls f for each key and value of mapping n, checked against
// type t, and of the mappings merged into it with "<<". Anything but a
// mapping is left to yaml.v3, which reports the mismatch.
func (d *decoder) entries(n *yaml.Node, t reflect.Type, field string, f func(k, v *yaml.Node, path string)) {
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			srcs, ok := mergeSources(v)
			if !ok {
				d.stopped = true
				d.errs = append(d.errs, d.errorAt(k.Line, field, errors.New("<< merges a mapping or a list of mappings")))
			}
			for _, s := range srcs {
				if !d.walked[walkKey{s, t}] {
					d.walked[walkKey{s, t}] = true
					d.entries(s, t, field, f)
				}
			}
			continue
		}
		if rk := resolve(k); rk == nil || rk.Kind != yaml.ScalarNode {
			// No configuration type takes one, and yaml.v3 may panic.
			d.stopped, d.badKeys[k.Line] = true, true
			d.errs = append(d.errs, d.errorAt(k.Line, field, errors.New("a key must be a name, not a list or mapping")))
			continue
		}
		path := joinPath(field, k.Value)
		d.byLine[k.Line] = append(d.byLine[k.Line], place{k, path, nil})
		f(k, v, path)
	}
}

// unknown reports key k, which names no field.
func (d *decoder) unknown(k *yaml.Node, path string, names []string) {
	d.errs = append(d.errs, d.errorAt(k.Line, path, errors.New("unknown field"+DidYouMean(k.Value, names...))))
}

// unmarshaler runs t's UnmarshalYAML on n ahead of yaml.v3, to report an
// outright failure at its field: yaml.v3 would stop with the bare error.
func (d *decoder) unmarshaler(n *yaml.Node, t reflect.Type, field string) {
	u, ok := reflect.New(t).Interface().(yaml.Unmarshaler)
	if !ok || n.ShortTag() == "!!null" { // yaml.v3 skips null values
		return
	}
	err := u.UnmarshalYAML(n)
	var te *yaml.TypeError
	if err != nil && !errors.As(err, &te) {
		d.stopped = true
		d.errs = append(d.errs, d.errorAt(n.Line, field, err))
	}
}

func (d *decoder) errorAt(line int, field string, err error) *Error {
	return &Error{File: d.doc.file, Line: line, Field: joinPath(d.doc.prefix, field), Err: err}
}

// yamlError adds yaml.v3's decoding errors, naming their fields.
func (d *decoder) yamlError(err error) {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		if !d.stopped { // not a syntax error: the document parsed
			line, msg := splitLine(err.Error())
			d.errs = append(d.errs, &Error{File: d.doc.file, Line: line, Err: errors.New(msg)})
		}
		return
	}
	for _, m := range te.Errors {
		line, msg := splitLine(m)
		if d.badKeys[line] {
			continue
		}
		p, ok := d.placeOf(line, msg)
		if !ok {
			d.errs = append(d.errs, &Error{File: d.doc.file, Line: line, Err: errors.New(msg)})
			continue
		}
		// Plain words, unless the place found cannot be what yaml.v3
		// meant (it would read "want a mapping, got a mapping").
		if w, g := want(p.t), got(p.n); w != "" && w != g && strings.HasPrefix(msg, "cannot unmarshal ") {
			msg = fmt.Sprintf("want %s, got %s", w, g)
		}
		d.errs = append(d.errs, d.errorAt(line, p.field, errors.New(msg)))
	}
}

// placeOf finds the field a yaml.v3 message at line is about: for a type
// error, the value whose tag, text and type it quotes, else the last
// (deepest) value on the line; for other messages, the key it quotes,
// else the first field on the line.
func (d *decoder) placeOf(line int, msg string) (place, bool) {
	ps := d.byLine[line]
	if len(ps) == 0 {
		return place{}, false
	}
	for _, p := range ps {
		if p.t != nil && msg == "cannot unmarshal "+quoted(p.n)+" into "+deref(p.t).String() {
			return p, true
		}
	}
	if strings.HasPrefix(msg, "cannot unmarshal ") {
		for i := len(ps) - 1; i >= 0; i-- {
			if ps[i].t != nil {
				return ps[i], true
			}
		}
	}
	for _, p := range ps { // "mapping key "x" already defined at line N"
		if p.t == nil && strings.Contains(msg, strconv.Quote(p.n.Value)) {
			return p, true
		}
	}
	return ps[0], true
}

// quoted renders n as yaml.v3's type errors do.
func quoted(n *yaml.Node) string {
	tag := n.ShortTag()
	if tag == "!!seq" || tag == "!!map" {
		return tag
	}
	v := n.Value
	if len(v) > 10 {
		v = v[:7] + "..."
	}
	return tag + " `" + v + "`"
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// want describes the YAML values a Go type takes, for type errors.
func want(t reflect.Type) string {
	if t == nil {
		return ""
	}
	if t = deref(t); t == durationType {
		return "a duration such as 90s, 5m or 1h30m"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return ""
}

// got describes a YAML value for type errors.
func got(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return strconv.Quote(n.Value)
}

// structFields are the YAML keys of a struct type, as yaml.v3 maps them.
type structFields struct {
	types map[string]reflect.Type
	names []string     // in declaration order, for suggestions
	rest  reflect.Type // an inline map taking the other keys; nil if none
}

func fieldsOf(t reflect.Type) structFields {
	fs := structFields{types: map[string]reflect.Type{}}
	fs.add(t)
	return fs
}

func (fs *structFields) add(t reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.PkgPath != "" && !f.Anonymous {
			continue // unexported, as yaml.v3 skips it
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(","+opts+",", ",inline,") {
			switch ft := deref(f.Type); ft.Kind() {
			case reflect.Map:
				fs.rest = ft
			case reflect.Struct:
				fs.add(ft)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if _, dup := fs.types[name]; !dup {
			fs.names = append(fs.names, name)
		}
		fs.types[name] = f.Type
	}
}
