package yamlconf

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

type testConfig struct {
	Name     string          `yaml:"name"`
	Count    int             `yaml:"count"`
	TTL      time.Duration   `yaml:"ttl"`
	Enabled  *bool           `yaml:"enabled"`
	Server   testServer      `yaml:"server"`
	Items    []testItem      `yaml:"items"`
	Named    map[string]item `yaml:"named"`
	Ptr      *testItem       `yaml:"ptr"`
	Level    level           `yaml:"level"`
	Any      any             `yaml:"any"`
	Raw      yaml.Node       `yaml:"raw"`
	Embedded `yaml:",inline"`
	Default  string // yaml.v3 names it "default"
	Skipped  string `yaml:"-"`
}

type testServer struct {
	Listen   string `yaml:"listen"`
	Timeouts struct {
		Read time.Duration `yaml:"read"`
	} `yaml:"timeouts"`
}

type testItem struct {
	Module   string   `yaml:"module"`
	Versions []string `yaml:"versions"`
}

type item = testItem

type Embedded struct {
	Extra string `yaml:"extra"`
}

// level is a custom scalar: Decode must not descend into it.
type level int

func (l *level) UnmarshalYAML(n *yaml.Node) error {
	switch n.Value {
	case "low":
		*l = 1
	case "high":
		*l = 2
	default:
		return fmt.Errorf("%q is not low or high", n.Value)
	}
	return nil
}

// lines returns err's text, one error a line ("" for nil).
func lines(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestDecodeReportsEveryProblem(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"empty", "", ""},
		{"comments only", "# nothing\n", ""},
		{"null", "~\n", ""},
		{"valid", "name: x\ncount: 3\nttl: 90s\nserver:\n  listen: :80\n  timeouts: {read: 1m}\nitems:\n  - module: m\n    versions: [v1]\nlevel: high\nextra: e\ndefault: d\nany: {x: [1]}\nraw: [whatever]\n", ""},
		{"unknown top", "nmae: x\n", `t.yaml:1: nmae: unknown field (did you mean "name"?)`},
		{"unknown nested", "server:\n  listn: x\n", `t.yaml:2: server.listn: unknown field (did you mean "listen"?)`},
		{"unknown deeper", "server:\n  timeouts:\n    raed: 1s\n", `t.yaml:3: server.timeouts.raed: unknown field (did you mean "read"?)`},
		{"unknown in slice", "items:\n  - module: a\n  - modul: b\n", `t.yaml:3: items[1].modul: unknown field (did you mean "module"?)`},
		{"unknown in map", "named:\n  x:\n    zzz: 1\n", `t.yaml:3: named.x.zzz: unknown field`},
		{"unknown in pointer", "ptr:\n  versions: [v1]\n  bogus: 1\n", `t.yaml:3: ptr.bogus: unknown field`},
		{"unknown beside inline", "extra: e\nextrra: f\n", `t.yaml:2: extrra: unknown field (did you mean "extra"?)`},
		{"skipped field", "skipped: x\n", `t.yaml:1: skipped: unknown field`},
		{"int", "count: many\n", `t.yaml:1: count: want an integer, got "many"`},
		{"duration text", "ttl: 5 minutes\n", `t.yaml:1: ttl: want a duration such as 90s, 5m or 1h30m, got "5 minutes"`},
		{"duration number", "ttl: 90\n", `t.yaml:1: ttl: want a duration such as 90s, 5m or 1h30m, got "90"`},
		{"pointer bool", "enabled: sometimes\n", `t.yaml:1: enabled: want true or false, got "sometimes"`},
		{"two on one line", "server: {listen: [a], timeouts: {read: soon}}\n",
			"t.yaml:1: server.listen: want a string, got a list\nt.yaml:1: server.timeouts.read: want a duration such as 90s, 5m or 1h30m, got \"soon\""},
		{"list wanted", "items: {a: 1}\n", `t.yaml:1: items: want a list, got a mapping`},
		{"slice element", "items:\n  - module: [x]\n", `t.yaml:2: items[0].module: want a string, got a list`},
		{"map value", "named:\n  x: 3\n", `t.yaml:2: named.x: want a mapping, got "3"`},
		{"document", "just a string\n", `t.yaml:1: want a mapping, got "just a string"`},
		{"unmarshaler", "count: 1\nlevel: medium\n", `t.yaml:2: level: "medium" is not low or high`},
		{"duplicate", "name: a\nname: b\n", `t.yaml:2: name: mapping key "name" already defined at line 1`},
		{"anchor reported once", "items:\n  - &i {module: a, bogus: 1}\n  - *i\n", `t.yaml:2: items[0].bogus: unknown field`},
		{"merge", "named:\n  a: &a {module: m}\n  b:\n    <<: *a\n    versions: [v1]\n", ""},
		{"merge unknown", "named:\n  a: &a {modle: m}\n  b: {<<: *a}\n", `t.yaml:2: named.a.modle: unknown field (did you mean "module"?)`},
		{"bad merge", "server:\n  <<: 3\n", `t.yaml:2: server: << merges a mapping or a list of mappings`},
		{"syntax", "name: [\n", `t.yaml:1: did not find expected node content`},
		{"unclosed list", "name: a\nserver:\n  listen: [x\n", `t.yaml:3: did not find expected ',' or ']'`},
		{"unclosed mapping", "name: a\nserver: {listen: x\n", `t.yaml:2: did not find expected ',' or '}'`},
		{"bad indent", "name: a\nserver:\n  listen: x\n timeouts: {}\n", `t.yaml:4: did not find expected key`},
		{"list in mapping", "name: a\n- b\n", `t.yaml:2: did not find expected key`},
		{"tab", "\tname: x\n", `t.yaml:1: found character that cannot start any token`},
		{"tab later", "name: a\n\tcount: 2\n", `t.yaml:2: found a tab character that violates indentation`},
		{"colon", "name: a\ncount: b: c\n", `t.yaml:2: mapping values are not allowed in this context`},
		{"complex key", "named:\n  ? [a]\n  : {module: m}\n", `t.yaml:2: named: a key must be a name, not a list or mapping`},
		{"complex key beside a merge", "items:\n  - &i {a: 1}\nnamed:\n  x: {<<: *i, *i: 1}\n", `t.yaml:2: items[0].a: unknown field` + "\n" + `t.yaml:4: named.x: a key must be a name, not a list or mapping`},
		{"unknown anchor", "name: a\ncount: *nope\n", `t.yaml: unknown anchor 'nope' referenced`},
		{"sorted by line", "server:\n  listn: z\ncount: x\nnmae: y\n",
			"t.yaml:2: server.listn: unknown field (did you mean \"listen\"?)\nt.yaml:3: count: want an integer, got \"x\"\nt.yaml:4: nmae: unknown field (did you mean \"name\"?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c testConfig
			_, err := Decode("t.yaml", []byte(tt.src), &c)
			if got := lines(err); got != tt.want {
				t.Errorf("Decode(%q) =\n%s\nwant\n%s", tt.src, got, tt.want)
			}
			var le *Error
			if err != nil && !errors.As(err, &le) {
				t.Errorf("Decode(%q) = %T, want *Error", tt.src, err)
			}
		})
	}
}

func TestDecodeKeepsGoodFields(t *testing.T) {
	c := testConfig{Name: "default", TTL: time.Minute}
	src := "count: many\nttl: 2h\nnmae: x\nnamed:\n  a: &a {module: m}\n  b:\n    <<: *a\n    versions: [v1]\nenabled: true\nlevel: low\n"
	if _, err := Decode("t.yaml", []byte(src), &c); err == nil {
		t.Fatal("Decode succeeded, want errors")
	}
	if c.Name != "default" || c.TTL != 2*time.Hour || c.Named["b"].Module != "m" || c.Enabled == nil || !*c.Enabled || c.Level != 1 {
		t.Errorf("Decode left %+v", c)
	}
	if _, err := Decode("t.yaml", []byte("x: 1"), c); err == nil || !strings.Contains(err.Error(), "non-nil pointer") {
		t.Errorf("Decode(non-pointer) = %v", err)
	}
}

const sectionSrc = `listen: :80
policy:
  mode: audit
  waivers:
    - module: m
      expires: soon
    - module: n
`

type policySection struct {
	Mode    string `yaml:"mode"`
	Waivers []struct {
		Module  string `yaml:"module"`
		Expires string `yaml:"expires"`
	} `yaml:"waivers"`
	Cache struct {
		Size int `yaml:"size"`
	} `yaml:"cache"`
}

func TestSection(t *testing.T) {
	doc, err := Parse("m.yaml", []byte(sectionSrc+"  modez: x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !doc.Has("policy") || doc.Has("bot") {
		t.Errorf("Has(policy), Has(bot) = %v, %v", doc.Has("policy"), doc.Has("bot"))
	}
	sec := doc.Section("policy")
	var p policySection
	err = sec.Decode(&p)
	if want := `m.yaml:8: policy.modez: unknown field (did you mean "mode"?)`; lines(err) != want {
		t.Errorf("Section(policy).Decode = %v, want %s", err, want)
	}
	if p.Mode != "audit" || len(p.Waivers) != 2 {
		t.Errorf("Section(policy).Decode gave %+v", p)
	}

	// A stand-alone file holding just the section: no prefix.
	bare, err := Parse("p.yaml", []byte("mode: audit\nmodez: x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := bare.Section("policy").Decode(&p); lines(err) != `p.yaml:2: modez: unknown field (did you mean "mode"?)` {
		t.Errorf("bare Section(policy).Decode = %v", err)
	}
}

func TestLocate(t *testing.T) {
	doc, err := Parse("m.yaml", []byte(sectionSrc))
	if err != nil {
		t.Fatal(err)
	}
	sec := doc.Section("policy")
	bare, err := Parse("p.yaml", []byte("mode: audit\nwaivers:\n  - module: m\n"))
	if err != nil {
		t.Fatal(err)
	}
	other := &Error{File: "other.yaml", Line: 1, Err: errors.New("elsewhere")}
	plain := errors.New("not about a field")
	tests := []struct {
		name string
		doc  *Doc
		err  error
		want string
	}{
		{"field", doc, Errorf("policy.waivers[0].expires", "bad"), "m.yaml:6: policy.waivers[0].expires: bad"},
		{"element", doc, Errorf("policy.waivers[1]", "bad"), "m.yaml:7: policy.waivers[1]: bad"},
		{"missing leaf: its parent", doc, Errorf("policy.waivers[1].expires", "missing"), "m.yaml:7: policy.waivers[1].expires: missing"},
		{"missing index: the list", doc, Errorf("policy.waivers[5]", "x"), "m.yaml:4: policy.waivers[5]: x"},
		{"missing top-level: no line", doc, Errorf("upstream", "empty"), "m.yaml: upstream: empty"},
		{"section relative", sec, Errorf("waivers[0].module", "x"), "m.yaml:5: policy.waivers[0].module: x"},
		{"section named", sec, Errorf("policy.mode", "x"), "m.yaml:3: policy.mode: x"},
		{"section missing: its key", sec, Errorf("cache.size", "x"), "m.yaml:2: policy.cache.size: x"},
		{"bare", bare.Section("policy"), Errorf("waivers[0].module", "x"), "p.yaml:3: waivers[0].module: x"},
		{"bare named", bare.Section("policy"), Errorf("policy.mode", "x"), "p.yaml:1: mode: x"},
		{"nil doc", nil, Errorf("mode", "x"), "mode: x"},
		{"no field errors", doc, plain, "not about a field"},
		{"sorted, other files after", doc, errors.Join(other, Errorf("policy.waivers", "b"), plain, Errorf("listen", "a")),
			"m.yaml:1: listen: a\nm.yaml:4: policy.waivers: b\nother.yaml:1: elsewhere\nnot about a field"},
		{"through a wrapper", doc, fmt.Errorf("policy config: %w", errors.Join(Errorf("policy.mode", "x"), Errorf("listen", "y"))),
			"m.yaml:1: listen: y\nm.yaml:3: policy.mode: x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.doc.Locate(tt.err)
			if lines(got) != tt.want {
				t.Errorf("Locate(%q) =\n%s\nwant\n%s", tt.err, lines(got), tt.want)
			}
		})
	}
	if err := doc.Locate(plain); err != plain {
		t.Errorf("Locate(plain) = %#v, want it unchanged", err)
	}
	if err := doc.Locate(nil); err != nil {
		t.Errorf("Locate(nil) = %v", err)
	}
}

func TestPrefixAndSplit(t *testing.T) {
	plain := errors.New("plain")
	err := Prefix("bot", errors.Join(Errorf("schedule", "a"), Errorf("", "b"), Errorf("[0]", "c"), plain))
	if got, want := lines(err), "bot.schedule: a\nbot: b\nbot[0]: c\nplain"; got != want {
		t.Errorf("Prefix = %q, want %q", got, want)
	}
	if Prefix("bot", plain) != plain || Prefix("bot", nil) != nil {
		t.Error("Prefix changed an error without field errors")
	}
	if n := len(Split(errors.Join(plain, errors.Join(plain, plain)))); n != 3 {
		t.Errorf("Split found %d errors, want 3", n)
	}
	var fe *FieldError
	if !errors.As(Errorf("f", "wrapped: %w", plain), &fe) || !errors.Is(fe, plain) {
		t.Error("Errorf does not wrap with %w")
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"mode", "rule_modes", "licenses", "repositories", "listen", "ttl"}
	tests := []struct{ name, want string }{
		{"rule_modez", "rule_modes"},
		{"licences", "licenses"},
		{"repositorys", "repositories"},
		{"Listen", "listen"},
		{"lsiten", "listen"},
		{"tll", "ttl"},
		{"mod", "mode"},
		{"banana", ""},
		{"x", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Suggest(tt.name, keys); got != tt.want {
			t.Errorf("Suggest(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	tests := []struct{ name, want string }{
		{"audti", ` (did you mean "audit"?)`},
		{"Audit", ` (did you mean "audit"?)`},
		{"audit", ""}, // not a typo
		{"loud", ""},
	}
	for _, tt := range tests {
		if got := DidYouMean(tt.name, "enforce", "audit", "off"); got != tt.want {
			t.Errorf("DidYouMean(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"kitten", "sitting", 3},
		{"ab", "ba", 1}, {"ca", "abc", 3}, {"MODE", "mode", 0}, {"żółw", "żólw", 1},
	}
	for _, tt := range tests {
		if got := distance(tt.a, tt.b); got != tt.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// FuzzDecode: any input decodes or yields located errors with text, never
// a panic; and locating any field path never panics.
func FuzzDecode(f *testing.F) {
	f.Add("name: x\nserver: {listen: [a], timeouts: {read: soon}}\n")
	f.Add("items:\n  - &i {module: a, bogus: 1}\n  - *i\nnamed:\n  b: {<<: *i}\n")
	f.Add("level: medium\n<<: [1]\nname: [\n")
	f.Fuzz(func(t *testing.T, src string) {
		var c testConfig
		doc, err := Decode("f.yaml", []byte(src), &c)
		for _, e := range Split(err) {
			if e.Error() == "" {
				t.Fatal("empty error message")
			}
		}
		if doc != nil {
			_ = doc.Section("server").Locate(Errorf("server.timeouts.read[3].x", "x"))
		}
	})
}
