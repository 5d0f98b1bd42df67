package policy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ConfigError is a problem in a configuration file, located by line.
type ConfigError struct {
	File  string
	Line  int    // 1-based; 0 when unknown
	Field string // YAML path of the field, "" for syntax errors
	Err   error
}

func (e *ConfigError) Error() string {
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

func (e *ConfigError) Unwrap() error { return e.Err }

// LoadConfig reads a policy configuration file; see [ParseConfig]. Relative
// Paths are made relative to the file's directory.
func LoadConfig(file string) (*Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	cfg, err := ParseConfig(file, data)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(file)
	for i, p := range cfg.Paths {
		if !filepath.IsAbs(p) {
			cfg.Paths[i] = filepath.Join(dir, p)
		}
	}
	return cfg, nil
}

// ParseConfig parses YAML policy configuration. The document is either a
// bare [Config] or a modgate configuration whose top-level "policy" key
// holds one (other top-level keys are left to their owners). Unknown fields,
// type mismatches and [Config.Validate] failures are all reported, each as a
// *ConfigError with the line of the offending field, joined with
// errors.Join. An empty document yields the zero Config.
func ParseConfig(file string, data []byte) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(file, err)
	}
	cfg := new(Config)
	if len(doc.Content) == 0 {
		return cfg, nil
	}
	node, prefix := doc.Content[0], ""
	if node.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(node.Content); i += 2 {
			if node.Content[i].Value == "policy" {
				node, prefix = node.Content[i+1], "policy."
				break
			}
		}
	}
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		return cfg, nil
	}
	var errs []error
	checkKnown(file, node, reflect.TypeFor[Config](), strings.TrimSuffix(prefix, "."), &errs)
	// A TypeError leaves the other fields decoded, so validation still
	// reports their problems in the same pass.
	if err := node.Decode(cfg); err != nil {
		errs = append(errs, unjoin(yamlError(file, err))...)
	}
	if err := cfg.Validate(); err != nil {
		for _, e := range unjoin(err) {
			ce := &ConfigError{File: file, Err: e}
			var fe *FieldError
			if errors.As(e, &fe) {
				ce.Field, ce.Err = prefix+fe.Field, fe.Err
				ce.Line = lineOf(node, fe.Field)
			}
			errs = append(errs, ce)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlError turns yaml.v3's "yaml: line N: msg" errors (and a TypeError's
// list of them) into ConfigErrors.
func yamlError(file string, err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var errs []error
	for _, m := range msgs {
		ce := &ConfigError{File: file, Err: errors.New(strings.TrimPrefix(m, "yaml: "))}
		if sm := yamlLineRE.FindStringSubmatch(m); sm != nil {
			ce.Line, _ = strconv.Atoi(sm[1])
			ce.Err = errors.New(sm[2])
		}
		errs = append(errs, ce)
	}
	return errors.Join(errs...)
}

// checkKnown reports mapping keys that name no field of t.
func checkKnown(file string, n *yaml.Node, t reflect.Type, path string, errs *[]error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]()) {
		return // a type that decodes itself reports its own unknown keys
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // Decode reports the type mismatch
		}
		fields := fieldTypes(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := fields[k.Value]
			if !ok {
				*errs = append(*errs, &ConfigError{File: file, Line: k.Line, Field: join(k.Value), Err: errors.New("unknown field")})
				continue
			}
			checkKnown(file, n.Content[i+1], ft, join(k.Value), errs)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			checkKnown(file, c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkKnown(file, n.Content[i+1], t.Elem(), join(n.Content[i].Value), errs)
		}
	}
}

// fieldTypes maps the YAML names of struct type t's fields to their types.
func fieldTypes(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			fields[name] = f.Type
		}
	}
	return fields
}

var pathTokRE = regexp.MustCompile(`[^.\[\]]+|\[\d+\]`)

// lineOf returns the line of the node at a FieldError path such as
// "waivers[1].expires", or of the deepest ancestor found.
func lineOf(n *yaml.Node, field string) int {
	line := n.Line
	for _, tok := range pathTokRE.FindAllString(field, -1) {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		var next *yaml.Node
		if strings.HasPrefix(tok, "[") {
			i, _ := strconv.Atoi(strings.Trim(tok, "[]"))
			if n.Kind == yaml.SequenceNode && i < len(n.Content) {
				next = n.Content[i]
			}
		} else if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == tok {
					next = n.Content[i+1]
					break
				}
			}
		}
		if next == nil {
			return line
		}
		n, line = next, next.Line
	}
	return line
}

// unjoin flattens an errors.Join tree.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}
