package main

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // bot examples name time zones; do not depend on the host's database

	"gopkg.in/yaml.v3"

	"github.com/modgate/modgate/bot"
	"github.com/modgate/modgate/policy"
)

// The documentation these tests keep true: the README and every page
// under docs/.
const docsRoot = "../.."

// docPages returns the README and the docs/*.md pages, relative to the
// repository root.
func docPages(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(docsRoot, "docs", "*.md"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("no docs/*.md pages: %v", err)
	}
	out := []string{"README.md"}
	for _, p := range pages {
		rel, _ := filepath.Rel(docsRoot, p)
		out = append(out, filepath.ToSlash(rel))
	}
	return out
}

func readPage(t *testing.T, page string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(docsRoot, page))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// codeBlock is one fenced code block of a Markdown page.
type codeBlock struct {
	page string
	line int // of the opening fence, 1-based
	lang string
	text string // indentation of the fence removed
}

var fenceRE = regexp.MustCompile("^( *)(`{3,})([A-Za-z0-9_-]*)\\s*$")

// codeBlocks returns the fenced code blocks of a page, outermost only (a
// ````markdown block holding ``` fences is one block).
func codeBlocks(page, text string) []codeBlock {
	var out []codeBlock
	var cur *codeBlock
	var fence, indent string
	var body strings.Builder
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		m := fenceRE.FindStringSubmatch(line)
		switch {
		case cur == nil && m != nil:
			cur = &codeBlock{page: page, line: n, lang: m[3]}
			indent, fence = m[1], m[2]
			body.Reset()
		case cur != nil && m != nil && m[3] == "" && len(m[2]) >= len(fence):
			cur.text = body.String()
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(strings.TrimPrefix(line, indent) + "\n")
		}
	}
	return out
}

// yamlKeys returns the YAML names of struct type t's fields.
func yamlKeys(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

// TestDocsConfigExamples loads every YAML block of the README and the
// docs that is a modgate configuration (a top-level key of Config), a
// policy section or waiver file (a key of policy.Config), or, in the bot's
// page, a .github/modgate.yaml (keys of bot.RepoConfig) with the loader
// the commands use, and fails on any problem: an example that does not
// load is a false example. Other blocks (workflows, JSON) are skipped.
func TestDocsConfigExamples(t *testing.T) {
	ctx := context.Background()
	configKeys := yamlKeys(reflect.TypeFor[Config]())
	policyKeys := yamlKeys(reflect.TypeFor[policy.Config]())
	repoKeys := yamlKeys(reflect.TypeFor[bot.RepoConfig]())
	checked := map[string]int{}
	for _, page := range docPages(t) {
		for _, b := range codeBlocks(page, readPage(t, page)) {
			if b.lang != "yaml" {
				continue
			}
			where := page + ":" + strconv.Itoa(b.line)
			var root yaml.Node
			if err := yaml.Unmarshal([]byte(b.text), &root); err != nil {
				t.Errorf("%s: yaml block does not parse: %v", where, err)
				continue
			}
			keys := topKeys(&root)
			has := func(known []string) bool {
				return slices.ContainsFunc(keys, func(k string) bool { return slices.Contains(known, k) })
			}
			switch {
			case has(configKeys):
				checked["configuration"]++
				cfg := loadDocConfig(ctx, t, where, b.text)
				if cfg == nil {
					continue
				}
				if slices.Contains(keys, "bot") {
					if err := cfg.Bot.Validate(); err != nil {
						t.Errorf("%s: bot section: %v", where, err)
					}
				}
				checkRuleNames(ctx, t, where, cfg.Policy)
			case has(policyKeys):
				checked["policy section"]++
				pc, err := policy.ParseConfig(where, []byte(b.text))
				if err != nil {
					t.Errorf("%s: policy section does not load:\n%v", where, err)
					continue
				}
				checkRuleNames(ctx, t, where, *pc)
			case filepath.Base(page) == "bot.md" && len(keys) > 0 && !slices.ContainsFunc(keys, func(k string) bool { return !slices.Contains(repoKeys, k) }):
				checked["repository bot settings"]++
				if _, err := bot.ParseRepoConfig([]byte(b.text)); err != nil {
					t.Errorf("%s: .github/modgate.yaml example does not load:\n%v", where, err)
				}
			}
		}
	}
	// The pages the brief names must hold examples, or this test checks
	// nothing.
	if checked["configuration"] < 5 || checked["policy section"] < 1 || checked["repository bot settings"] < 1 {
		t.Errorf("checked %v: fewer configuration examples than the docs hold", checked)
	}
}

// topKeys returns the top-level keys of a YAML document, nil when it is
// not a mapping.
func topKeys(root *yaml.Node) []string {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	var keys []string
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		keys = append(keys, m.Content[i].Value)
	}
	return keys
}

// loadDocConfig loads text as a modgate.yaml with the real loader, the one
// serve and policy check use, with a hermetic go environment.
func loadDocConfig(ctx context.Context, t *testing.T, where, text string) *Config {
	t.Helper()
	file := filepath.Join(t.TempDir(), "modgate.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	app, _, _ := testApp()
	cfg, _, err := loadConfig(ctx, app, file, nil)
	if err != nil {
		t.Errorf("%s: configuration does not load:\n%v", where, err)
		return nil
	}
	return cfg
}

// checkRuleNames checks the rule names of a documented policy against the
// built-in rules, as the engine does at start-up. The files the example
// names (rules, waiver files, VEX documents) do not exist here, so they
// are left out; documented examples name only built-in rules.
func checkRuleNames(ctx context.Context, t *testing.T, where string, pc policy.Config) {
	t.Helper()
	pc.Paths, pc.WaiverFiles, pc.VEX = nil, nil, nil
	pc.DecisionLog = policy.DecisionLogConfig{}
	if _, err := policy.Check(ctx, &pc, policy.CheckOptions{}); err != nil {
		t.Errorf("%s: policy does not compile with the built-in rules:\n%v", where, err)
	}
}

// TestDocsConfigKeys checks that docs/configuration.md names every YAML
// key of the configuration, as `dotted.path` in backticks (sequence
// elements as `list[].key`): the top-level keys of Config, the policy
// section with its nested structs, and the vulndb section. The bot's keys
// are documented in docs/bot.md; configuration.md names the section.
func TestDocsConfigKeys(t *testing.T) {
	const page = "docs/configuration.md"
	doc := readPage(t, page)
	var missing []string
	var walk func(t reflect.Type, prefix string)
	walk = func(typ reflect.Type, prefix string) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			path := prefix + name
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch {
			case ft == reflect.TypeFor[bot.Config]():
				// A pointer to docs/bot.md.
			case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]():
				walk(ft, path+".")
				continue
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				walk(ft.Elem(), path+"[].")
				continue
			}
			if !strings.Contains(doc, "`"+path+"`") {
				missing = append(missing, path)
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Errorf("%s does not document these keys (as `key` in backticks):\n\t%s", page, strings.Join(missing, "\n\t"))
	}
}

// containers are the commands with subcommands.
var containers = []string{"policy", "vulndb", "cache"}

var (
	inlineCodeRE = regexp.MustCompile("`([^`\n]+)`")
	wordRE       = regexp.MustCompile(`^[a-z][a-z-]*$`)
	envAssignRE  = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`)
)

// invocation returns the words after "modgate" when line invokes it
// (`modgate check .`, `$ modgate policy eval ...`, `MODGATE_X=1 modgate
// bot`, `go run ./cmd/modgate serve`, `run: modgate bot`), else nil.
func invocation(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(line, "- ")
	line = strings.TrimPrefix(line, "run: ")
	line = strings.TrimPrefix(line, "$ ")
	f := strings.Fields(line)
	for len(f) > 0 && envAssignRE.MatchString(f[0]) {
		f = f[1:]
	}
	if len(f) >= 3 && f[0] == "go" && f[1] == "run" {
		f = f[2:]
	}
	if len(f) == 0 {
		return nil
	}
	if bin := f[0]; bin != "modgate" && !strings.HasSuffix(bin, "/cmd/modgate") && !strings.Contains(bin, "/cmd/modgate@") {
		return nil
	}
	return f[1:]
}

// TestDocsCommandsExist runs `modgate CMD [SUB] --help` in-process for
// every command and subcommand the README and the docs invoke, in inline
// code or in shell and YAML blocks, and expects exit status 0: a
// documented command that does not exist is a usage error (2).
func TestDocsCommandsExist(t *testing.T) {
	named := map[string]string{} // "policy baseline" -> where first named
	add := func(where string, words []string) {
		if len(words) == 0 || !wordRE.MatchString(words[0]) {
			return
		}
		cmd := words[0]
		if slices.Contains(containers, cmd) && len(words) > 1 && wordRE.MatchString(words[1]) {
			cmd += " " + words[1]
		}
		if _, ok := named[cmd]; !ok {
			named[cmd] = where
		}
	}
	for _, page := range docPages(t) {
		text := readPage(t, page)
		for i, line := range strings.Split(text, "\n") {
			for _, m := range inlineCodeRE.FindAllStringSubmatch(line, -1) {
				add(page+":"+strconv.Itoa(i+1), invocation(m[1]))
			}
		}
		for _, b := range codeBlocks(page, text) {
			switch b.lang {
			case "sh", "bash", "console", "text", "", "yaml":
			default:
				continue
			}
			for i, line := range strings.Split(b.text, "\n") {
				if strings.HasPrefix(strings.TrimSpace(line), "#") {
					continue
				}
				add(page+":"+strconv.Itoa(b.line+1+i), invocation(line))
			}
		}
	}
	for _, want := range []string{"serve", "check", "bot", "policy baseline", "policy report"} {
		if _, ok := named[want]; !ok {
			t.Errorf("the docs never invoke modgate %s; the scan is broken", want)
		}
	}
	run := func(args ...string) (int, string) {
		app, _, errb := testApp()
		code := app.Run(context.Background(), append(args, "--help"))
		return code, errb.String()
	}
	// The probe is live: a command that does not exist fails.
	for _, bogus := range [][]string{{"bogus"}, {"policy", "bogus"}, {"vulndb", "bogus"}, {"cache", "bogus"}} {
		if code, _ := run(bogus...); code == 0 {
			t.Fatalf("modgate %s --help = exit 0; the probe cannot tell a missing command", strings.Join(bogus, " "))
		}
	}
	cmds := make([]string, 0, len(named))
	for c := range named {
		cmds = append(cmds, c)
	}
	sort.Strings(cmds)
	for _, c := range cmds {
		if code, stderr := run(strings.Fields(c)...); code != 0 {
			t.Errorf("%s: modgate %s --help = exit %d, want 0 (no such command?)\n%s", named[c], c, code, stderr)
		}
	}
}
