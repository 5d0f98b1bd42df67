package graph

import (
	"io"
	"time"

	"github.com/modgate/modgate/scanner/vex"
)

// GitHubSnapshot is a GitHub dependency-submission snapshot (version 0 of
// the REST API's "create a snapshot of dependencies for a repository"
// body).
type GitHubSnapshot struct {
	Version   int                       `json:"version"`
	Sha       string                    `json:"sha"`
	Ref       string                    `json:"ref"`
	Job       GitHubJob                 `json:"job"`
	Detector  GitHubDetector            `json:"detector"`
	Scanned   string                    `json:"scanned"`
	Manifests map[string]GitHubManifest `json:"manifests"`
}

// GitHubJob identifies the workflow job that made the snapshot.
type GitHubJob struct {
	Correlator string `json:"correlator"`
	ID         string `json:"id"`
	HTMLURL    string `json:"html_url,omitempty"`
}

// GitHubDetector names the tool that made the snapshot.
type GitHubDetector struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	URL     string `json:"url"`
}

// GitHubManifest is one manifest file's resolved dependencies.
type GitHubManifest struct {
	Name     string                      `json:"name"`
	File     *GitHubFile                 `json:"file,omitempty"`
	Resolved map[string]GitHubDependency `json:"resolved"`
}

// GitHubFile locates a manifest in the repository.
type GitHubFile struct {
	SourceLocation string `json:"source_location"`
}

// GitHubDependency is one resolved package.
type GitHubDependency struct {
	PackageURL string `json:"package_url"`
	// Relationship is "direct" or "indirect".
	Relationship string `json:"relationship"`
	// Scope is "runtime": the module graph does not tell test-only
	// modules apart.
	Scope string `json:"scope"`
	// Dependencies are the package URLs of its selected requirements.
	Dependencies []string `json:"dependencies"`
}

// SnapshotOptions fills the snapshot fields that do not come from the
// graph.
type SnapshotOptions struct {
	Sha, Ref               string
	Correlator, JobID, URL string
	DetectorVersion        string
	DetectorURL            string
	// Manifest is the go.mod path relative to the repository root.
	// "" means "go.mod".
	Manifest string
	// Scanned is the scan time; zero means time.Now.
	Scanned time.Time
}

// NewGitHubSnapshot converts g. Main modules are not dependencies; a
// module is direct when a main module requires it without // indirect.
func NewGitHubSnapshot(g *Graph, opts SnapshotOptions) *GitHubSnapshot {
	manifest := opts.Manifest
	if manifest == "" {
		manifest = "go.mod"
	}
	scanned := opts.Scanned
	if scanned.IsZero() {
		scanned = time.Now()
	}
	resolved := map[string]GitHubDependency{}
	for _, m := range g.Sorted() {
		if m.Main || m.Version == "" {
			continue
		}
		rel := "indirect"
		if !m.Indirect {
			rel = "direct"
		}
		deps := []string{}
		for _, d := range g.Deps(m.Path) {
			if dm := g.Modules[d.Path]; dm != nil && !dm.Main && dm.Version != "" {
				deps = append(deps, modulePURL(dm))
			}
		}
		resolved[m.Path] = GitHubDependency{PackageURL: modulePURL(m), Relationship: rel, Scope: "runtime", Dependencies: deps}
	}
	return &GitHubSnapshot{
		Version:  0,
		Sha:      opts.Sha,
		Ref:      opts.Ref,
		Job:      GitHubJob{Correlator: opts.Correlator, ID: opts.JobID, HTMLURL: opts.URL},
		Detector: GitHubDetector{Name: "modgate", Version: opts.DetectorVersion, URL: opts.DetectorURL},
		Scanned:  scanned.UTC().Format(time.RFC3339),
		Manifests: map[string]GitHubManifest{manifest: {
			Name:     manifest,
			File:     &GitHubFile{SourceLocation: manifest},
			Resolved: resolved,
		}},
	}
}

// WriteGitHubSnapshot writes the snapshot as indented JSON.
func WriteGitHubSnapshot(w io.Writer, s *GitHubSnapshot) error { return writeJSON(w, s) }

// modulePURL names the code actually built: a module replacement's
// path and version (a directory replacement keeps the original).
func modulePURL(m *Module) string {
	if m.Replace != nil && !m.Replace.Local() {
		return PURL(m.Replace.Path, m.Replace.Version)
	}
	return PURL(m.Path, m.Version)
}

// PURL returns the package URL of a Go module version (see
// [vex.PURL] for the escaping rules).
func PURL(path, version string) string { return vex.ModulePURL(path, version) }
