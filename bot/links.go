package bot

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/modgate/modgate/bot/forge"
	"github.com/modgate/modgate/bot/gomod"
)

// location is where a module's source lives on a known forge.
type location struct {
	// Host is the forge's host; Owner and Name the repository (Name may
	// hold a path for hosts with nested groups).
	Host, Owner, Name string
	// Dir is the module's directory in the repository with a trailing
	// slash ("" at the root): the prefix of its version tags.
	Dir string
}

// locate maps a module path to its repository on a known forge:
// GitHub (github.com or the configured forge's host), GitLab, and the Go
// project's own repositories (golang.org/x/...).
func locate(path, forgeHost string) (location, bool) {
	prefix, _, ok := module.SplitPathVersion(path)
	if !ok {
		return location{}, false
	}
	parts := strings.Split(prefix, "/")
	switch {
	case parts[0] == "golang.org" && len(parts) >= 3 && parts[1] == "x":
		return location{Host: "go.googlesource.com", Name: parts[2], Dir: dir(parts[3:])}, true
	case len(parts) < 3:
		return location{}, false
	case parts[0] == "github.com" || parts[0] == "gitlab.com" || (forgeHost != "" && parts[0] == forgeHost):
		return location{Host: parts[0], Owner: parts[1], Name: parts[2], Dir: dir(parts[3:])}, true
	}
	return location{}, false
}

func dir(parts []string) string {
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, "/") + "/"
}

// ref is the git name of version v of the module in directory dir: its
// tag, or the commit of a pseudo-version.
func ref(dir, v string) string {
	if module.IsPseudoVersion(v) {
		if rev, err := module.PseudoVersionRev(v); err == nil {
			return rev
		}
	}
	return dir + strings.TrimSuffix(v, "+incompatible")
}

// release is one release note linked from a pull request.
type release struct {
	Tag, URL string
	Body     string
}

// links are the web pages about one update.
type links struct {
	// Repo is the repository page, Compare the comparison of the two
	// versions, ReleaseNotes a release page when the forge was not asked
	// (plain links).
	Repo, Compare, ReleaseNotes string
	// Releases are the releases between the two versions (newest
	// first), read from the forge's API.
	Releases []release
}

// linker finds the links of updates, asking the forge about repositories
// it hosts once per pass. It is safe for concurrent use.
type linker struct {
	// src is the forge the bot runs against, if it hosts modules.
	src forge.ReleaseSource

	mu    sync.Mutex // protects repos
	repos map[string]*repoInfo
}

// repoInfo is what the forge said about one repository.
type repoInfo struct {
	once     sync.Once
	url      string
	releases []forge.Release
	ok       bool
}

func newLinker(f forge.Forge) *linker {
	l := &linker{repos: map[string]*repoInfo{}}
	if src, ok := f.(forge.ReleaseSource); ok && src.ModuleHost() != "" {
		l.src = src
	}
	return l
}

func (l *linker) host() string {
	if l == nil || l.src == nil {
		return ""
	}
	return l.src.ModuleHost()
}

// repo asks the forge about owner/name once; !ok means it does not know
// the repository (or failed to answer: links then fall back to plain
// ones).
func (l *linker) repo(ctx context.Context, owner, name string) *repoInfo {
	l.mu.Lock()
	ri := l.repos[owner+"/"+name]
	if ri == nil {
		ri = &repoInfo{}
		l.repos[owner+"/"+name] = ri
	}
	l.mu.Unlock()
	ri.once.Do(func() {
		r, err := l.src.Repo(ctx, owner, name)
		if err != nil {
			return
		}
		rels, err := l.src.Releases(ctx, r)
		if err != nil && !errors.Is(err, forge.ErrNotFound) {
			return
		}
		ri.url, ri.releases, ri.ok = r.HTMLURL, rels, r.HTMLURL != ""
	})
	return ri
}

// links returns the links of c, or the zero value for a module on no
// known forge.
func (l *linker) links(ctx context.Context, c candidate) links {
	if c.Kind == gomod.KindToolchain {
		return links{ReleaseNotes: "https://go.dev/doc/devel/release#" + c.To}
	}
	if c.Kind == gomod.KindGo {
		return links{ReleaseNotes: "https://go.dev/doc/" + version1(c.To)}
	}
	from, fok := locate(c.Path, l.host())
	to, ok := locate(c.NewPath, l.host())
	if !ok {
		return links{}
	}
	fromRef, toRef := ref(from.Dir, c.From), ref(to.Dir, c.To)
	sameRepo := fok && from.Host == to.Host && from.Owner == to.Owner && from.Name == to.Name
	var out links
	switch {
	case to.Host == "go.googlesource.com":
		out.Repo = "https://go.googlesource.com/" + to.Name
		if sameRepo {
			out.Compare = out.Repo + "/+log/" + fromRef + ".." + toRef
		}
		return out
	case to.Host == "gitlab.com":
		out.Repo = "https://gitlab.com/" + to.Owner + "/" + to.Name
		if sameRepo {
			out.Compare = out.Repo + "/-/compare/" + fromRef + "..." + toRef
		}
		out.ReleaseNotes = out.Repo + "/-/releases/" + url.PathEscape(toRef)
		return out
	}
	// GitHub.
	out.Repo = "https://" + to.Host + "/" + to.Owner + "/" + to.Name
	if l.src != nil && to.Host == l.src.ModuleHost() {
		if ri := l.repo(ctx, to.Owner, to.Name); ri.ok {
			out.Repo = ri.url
			out.Releases = between(ri.releases, to.Dir, c)
		}
	}
	if sameRepo {
		out.Compare = out.Repo + "/compare/" + fromRef + "..." + toRef
	}
	if out.Releases == nil {
		out.ReleaseNotes = out.Repo + "/releases/tag/" + toRef
	}
	return out
}

// version1 turns "1.22.0" into "go1.22" (the release notes page name).
func version1(v string) string {
	return "go" + semver.MajorMinor("v" + v)[1:]
}

// between returns the releases of the module in dir after c.From up to
// c.To, newest first.
func between(rels []forge.Release, dir string, c candidate) []release {
	var out []release
	for _, r := range rels {
		v, ok := strings.CutPrefix(r.Tag, dir)
		if !ok || !semver.IsValid(v) {
			continue
		}
		if semver.Compare(v, c.To) > 0 || semver.Compare(v, c.From) <= 0 {
			continue
		}
		if semver.Major(c.From) != semver.Major(c.To) && semver.Major(v) != semver.Major(c.To) {
			continue // a major upgrade's news are its new major's releases
		}
		if semver.Prerelease(v) != "" && semver.Prerelease(c.To) == "" {
			continue
		}
		out = append(out, release{Tag: r.Tag, URL: r.URL, Body: r.Body})
	}
	return out
}

// advisoryURL is where a vulnerability ID is described.
func advisoryURL(id string) string {
	switch {
	case strings.HasPrefix(id, "GO-"):
		return "https://pkg.go.dev/vuln/" + id
	case strings.HasPrefix(id, "CVE-"):
		return "https://www.cve.org/CVERecord?id=" + id
	case strings.HasPrefix(id, "GHSA-"):
		return "https://github.com/advisories/" + id
	}
	return ""
}

// advisory renders an ID as a link to its advisory.
func advisory(id string) string {
	if u := advisoryURL(id); u != "" {
		return "[" + id + "](" + u + ")"
	}
	return id
}

var (
	mentionRE = regexp.MustCompile(`(^|[^\w&` + "`" + `])@([A-Za-z0-9][\w-]*)`)
	issueRE   = regexp.MustCompile(`(^|[^\w&/])#(\d+)\b`)
)

// quoteNotes makes another repository's release notes safe to embed in a
// pull request: @mentions would notify people and #123 would link this
// repository's issue 123, so a zero-width space defuses both.
func quoteNotes(s string) string {
	s = mentionRE.ReplaceAllString(s, "$1@&#8203;$2")
	return issueRE.ReplaceAllString(s, "$1#&#8203;$2")
}
