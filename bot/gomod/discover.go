// Package gomod owns what the bot does to a checked-out repository with
// the real go command: finding every module (all go.mod files and an
// optional go.work), applying a group of requirement updates in a sandbox
// copy (go get, import-path rewrites for new major versions, go mod tidy,
// go work sync, go mod vendor), verifying the result (tidy -diff clean,
// read-only build, go mod verify, optional tests), and computing the
// build list that minimal version selection produced before and after.
//
// The go command's environment comes from the caller; GOWORK is always
// set explicitly per command, so a module inside a workspace is built the
// way its developers build it and one outside is not affected by it.
package gomod

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
)

// Module is one go.mod in the repository.
type Module struct {
	// Dir is the slash-separated directory relative to the repository
	// root ("." for the root).
	Dir  string
	Path string
	File *modfile.File
	// Vendored is set when the module has a vendor/modules.txt.
	Vendored bool
	// InWork is set when the repository's go.work uses this module.
	InWork bool
}

// Repo is a checked-out repository's module layout.
type Repo struct {
	// Root is the absolute path of the checkout.
	Root string
	// GoWork is the slash path of go.work relative to Root, or "".
	GoWork string
	// Modules are in dependency order: a module comes after the
	// repository modules it requires.
	Modules []*Module
}

// skipDir reports whether the go command ignores dir for ./... patterns
// (and so the bot does too).
func skipDir(name string) bool {
	return name == "vendor" || name == "testdata" || name == "node_modules" ||
		strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

// Discover finds the modules of the checkout at root.
func Discover(root string) (*Repo, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	r := &Repo{Root: root}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() != "go.mod" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		rel = filepath.ToSlash(rel)
		// The absolute name lets edits write the file back.
		f, err := modfile.Parse(p, data, nil)
		if err != nil {
			return fmt.Errorf("parse %s/go.mod: %w", rel, err)
		}
		if f.Module == nil {
			return fmt.Errorf("%s/go.mod: no module line", rel)
		}
		m := &Module{Dir: rel, Path: f.Module.Mod.Path, File: f}
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "vendor", "modules.txt")); err == nil {
			m.Vendored = true
		}
		r.Modules = append(r.Modules, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("discover modules: %w", err)
	}
	if data, err := os.ReadFile(filepath.Join(root, "go.work")); err == nil {
		wf, err := modfile.ParseWork("go.work", data, nil)
		if err != nil {
			return nil, fmt.Errorf("parse go.work: %w", err)
		}
		r.GoWork = "go.work"
		for _, u := range wf.Use {
			dir := filepath.ToSlash(filepath.Clean(u.Path))
			for _, m := range r.Modules {
				if m.Dir == dir {
					m.InWork = true
				}
			}
		}
	}
	r.Modules = order(r.Modules)
	return r, nil
}

// order sorts modules so that each follows the repository modules it
// requires (ties and cycles by directory).
func order(mods []*Module) []*Module {
	slices.SortFunc(mods, func(a, b *Module) int { return strings.Compare(a.Dir, b.Dir) })
	byPath := map[string]*Module{}
	for _, m := range mods {
		byPath[m.Path] = m
	}
	var out []*Module
	state := map[*Module]int{} // 1 visiting, 2 done
	var visit func(m *Module)
	visit = func(m *Module) {
		if state[m] != 0 {
			return
		}
		state[m] = 1
		for _, r := range m.File.Require {
			if dep := byPath[r.Mod.Path]; dep != nil && dep != m {
				visit(dep)
			}
		}
		state[m] = 2
		out = append(out, m)
	}
	for _, m := range mods {
		visit(m)
	}
	return out
}

// Local reports whether path is one of the repository's own modules.
func (r *Repo) Local(path string) bool {
	for _, m := range r.Modules {
		if m.Path == path {
			return true
		}
	}
	return false
}

// Replaced reports whether m's go.mod replaces path (any version or
// version), so updating its requirement would change nothing.
func (m *Module) Replaced(path, version string) bool {
	for _, r := range m.File.Replace {
		if r.Old.Path == path && (r.Old.Version == "" || r.Old.Version == version) {
			return true
		}
	}
	return false
}
