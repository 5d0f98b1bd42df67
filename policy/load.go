package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"

	"github.com/modgate/modgate/rules"
)

// policyFile is one parsed Rego module.
type policyFile struct {
	name   string // file name used in error locations
	raw    []byte
	parsed *ast.Module
	user   bool
}

// policySet is everything loaded from the built-in bundle and Config.Paths.
type policySet struct {
	files     []policyFile
	data      map[string]any    // base documents from user bundles
	revisions map[string]string // user bundle directory -> manifest revision
}

var parserOptions = ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true}

// loadPolicies parses the built-in rules and the user's paths. Test files
// (*_test.rego) are included only when tests is set (the built-in bundle's
// tests only when builtinTests is also set).
func loadPolicies(paths []string, tests, builtinTests bool) (*policySet, error) {
	ps := &policySet{data: map[string]any{}, revisions: map[string]string{}}
	var errs ast.Errors
	add := func(name string, raw []byte, user bool) {
		m, err := ast.ParseModuleWithOpts(name, string(raw), parserOptions)
		if err != nil {
			var ae ast.Errors
			if errors.As(err, &ae) {
				errs = append(errs, ae...)
			} else {
				errs = append(errs, ast.NewError(ast.ParseErr, &ast.Location{File: name}, "%v", err))
			}
			return
		}
		ps.files = append(ps.files, policyFile{name: name, raw: raw, parsed: m, user: user})
	}
	err := fs.WalkDir(rules.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") || (!builtinTests && rules.IsTest(p)) {
			return err
		}
		raw, err := fs.ReadFile(rules.FS(), p)
		if err != nil {
			return err
		}
		add("rules/"+p, raw, false)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading built-in rules: %w", err)
	}
	for _, p := range paths {
		if err := ps.loadPath(p, tests, add); err != nil {
			return nil, err
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	for _, f := range ps.files {
		if f.user {
			if err := checkUserModule(f); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return ps, nil
}

func (ps *policySet) loadPath(p string, tests bool, add func(string, []byte, bool)) error {
	st, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("policy path: %w", err)
	}
	if !st.IsDir() {
		if !strings.HasSuffix(p, ".rego") {
			return fmt.Errorf("policy path %s: not a .rego file or directory", p)
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("policy path: %w", err)
		}
		add(p, raw, true)
		return nil
	}
	if _, err := os.Stat(filepath.Join(p, ".manifest")); err == nil {
		b, err := loader.NewFileLoader().WithRegoVersion(ast.RegoV1).WithProcessAnnotation(true).AsBundle(p)
		if err != nil {
			return fmt.Errorf("policy bundle %s: %w", p, err)
		}
		for _, m := range b.Modules {
			if !tests && rules.IsTest(m.Path) {
				continue
			}
			add(m.Path, m.Raw, true)
		}
		if _, ok := b.Data["modgate"]; ok {
			return fmt.Errorf("policy bundle %s: data.modgate is reserved for modgate's configuration", p)
		}
		if err := mergeData(ps.data, b.Data); err != nil {
			return fmt.Errorf("policy bundle %s: %w", p, err)
		}
		ps.revisions[p] = b.Manifest.Revision
		return nil
	}
	return filepath.WalkDir(p, func(fp string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if fp != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(fp, ".rego") || (!tests && rules.IsTest(fp)) {
			return nil
		}
		raw, err := os.ReadFile(fp)
		if err != nil {
			return err
		}
		add(fp, raw, true)
		return nil
	})
}

func mergeData(dst, src map[string]any) error {
	for k, v := range src {
		if old, ok := dst[k]; ok {
			om, ok1 := old.(map[string]any)
			nm, ok2 := v.(map[string]any)
			if !ok1 || !ok2 {
				return fmt.Errorf("data.%s is defined twice", k)
			}
			if err := mergeData(om, nm); err != nil {
				return err
			}
			continue
		}
		dst[k] = v
	}
	return nil
}

var (
	modgatePkg = ast.MustParseRef("data.modgate")
	libPkg     = ast.MustParseRef("data.modgate.lib")
	rulesPkg   = ast.MustParseRef("data.modgate.rules")
)

// checkUserModule rejects user modules that would bypass the aggregator
// (package modgate, modgate.lib) or whose deny/warn rules would silently
// never be evaluated (packages other than modgate.rules.<name>).
func checkUserModule(f policyFile) *ast.Error {
	pkg := f.parsed.Package.Path
	loc := f.parsed.Package.Location
	if pkg.Equal(modgatePkg) || pkg.HasPrefix(libPkg) {
		return ast.NewError(ast.CompileErr, loc, "package %v is reserved for modgate's built-in rules; put custom rules in package modgate.rules.<name>", pkg)
	}
	if rules.IsTest(f.name) {
		return nil
	}
	inRules := len(pkg) == len(rulesPkg)+1 && pkg.HasPrefix(rulesPkg)
	if inRules {
		return nil
	}
	for _, r := range f.parsed.Rules {
		name := r.Head.Ref()[0].String()
		if name == "deny" || name == "warn" || name == "violation" {
			return ast.NewError(ast.CompileErr, r.Location, "rule %s in package %v is never evaluated: modgate evaluates deny, warn and violation only in packages modgate.rules.<name>", name, pkg)
		}
	}
	return nil
}

// digest identifies the policy: every module's name and bytes, the user
// bundles' data and the normalized configuration.
func (ps *policySet) digest(cfgDoc map[string]any) string {
	h := sha256.New()
	files := slices.Clone(ps.files)
	slices.SortFunc(files, func(a, b policyFile) int { return strings.Compare(a.name, b.name) })
	for _, f := range files {
		fmt.Fprintf(h, "module %q %d\n", f.name, len(f.raw))
		h.Write(f.raw)
	}
	// encoding/json sorts map keys, so this is canonical.
	d, _ := json.Marshal(ps.data)
	c, _ := json.Marshal(cfgDoc)
	fmt.Fprintf(h, "data %d\n%s\nconfig %d\n%s\n", len(d), d, len(c), c)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func (ps *policySet) modules() map[string]*ast.Module {
	m := make(map[string]*ast.Module, len(ps.files))
	for _, f := range ps.files {
		m[f.name] = f.parsed
	}
	return m
}

// capabilities are OPA's built-ins minus the non-deterministic ones
// (time.now_ns, http.send, rand.intn, ...): decisions must be reproducible
// from the input, which carries "now".
func capabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = slices.DeleteFunc(slices.Clone(caps.Builtins), func(b *ast.Builtin) bool {
		return b.Nondeterministic
	})
	return caps
}

// clientSensitive reports whether any module may read input.client (or
// input as a whole), in which case decisions are cached per client.
func clientSensitive(mods map[string]*ast.Module) bool {
	found := false
	for _, m := range mods {
		ast.WalkRefs(m, func(r ast.Ref) bool {
			if found || !r[0].Equal(ast.InputRootDocument) {
				return found
			}
			if len(r) == 1 {
				found = true
				return true
			}
			if s, ok := r[1].Value.(ast.String); !ok || s == "client" {
				found = true
			}
			return found
		})
	}
	return found
}
