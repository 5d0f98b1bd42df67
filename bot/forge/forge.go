// Package forge owns the bot's conversation with the code host: the
// GitHub REST API (github.com/google/go-github/v60) for repositories, pull
// requests (open, edit, close, merge), branches (deletion, the checks
// their protection and rulesets require), labels, comments, issues,
// commit statuses and check runs, and releases, authenticated with a
// token or as a GitHub App installation, with rate-limit back-off. [Local]
// is the read-only stand-in for a checkout on disk.
//
// Git traffic (clone, push) does not go through this package; [GitHub.GitToken]
// hands the credential to the git runner.
package forge

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Repo is one repository as the bot needs it.
type Repo struct {
	Owner, Name string
	// DefaultBranch is the branch updates are proposed against.
	DefaultBranch string
	// CloneURL is the HTTPS clone URL.
	CloneURL string
	// HTMLURL is the repository's web page ("" when unknown).
	HTMLURL  string
	Archived bool
	Fork     bool
	Topics   []string
}

// FullName returns "owner/name".
func (r Repo) FullName() string { return r.Owner + "/" + r.Name }

// PullRequest is the part of a pull request the bot reads back.
type PullRequest struct {
	Number int
	// State is "open" or "closed".
	State  string
	Merged bool
	Title  string
	Body   string
	// Head is the head branch name (without refs/heads/); HeadSHA its commit.
	Head    string
	HeadSHA string
	Base    string
	Labels  []string
	// UpdatedAt orders closed pull requests for incremental scans.
	UpdatedAt time.Time
	URL       string
}

// Issue is the part of an issue the bot reads back (the dashboard).
type Issue struct {
	Number int
	Title  string
	Body   string
	URL    string
}

// NewPull is a pull request to open.
type NewPull struct {
	Title, Body string
	Head, Base  string
}

// Release is a published release of a repository.
type Release struct {
	Tag, Name string
	// Body is the release notes (Markdown).
	Body       string
	URL        string
	Prerelease bool
}

// Check is the latest commit status or check run of one name on a commit.
type Check struct {
	Name string
	// State is "success", "pending" or "failure" (an error, a
	// cancelled, timed-out or action-required run counts as a failure;
	// a neutral or skipped run as a success).
	State string
}

// Merge methods.
const (
	MergeMerge  = "merge"
	MergeSquash = "squash"
	MergeRebase = "rebase"
)

// Status is a commit status.
type Status struct {
	// State is "success", "failure", "error" or "pending".
	State       string
	Context     string
	Description string
	TargetURL   string
}

// Forge is what the bot asks of the code host. Implementations must be
// safe for concurrent use. Not-found conditions are reported as errors
// that match [ErrNotFound] with errors.Is.
type Forge interface {
	Repo(ctx context.Context, owner, name string) (Repo, error)
	// OrgRepos lists every repository of an organisation.
	OrgRepos(ctx context.Context, org string) ([]Repo, error)
	// OpenPulls lists the open pull requests whose head branch starts
	// with headPrefix.
	OpenPulls(ctx context.Context, r Repo, headPrefix string) ([]PullRequest, error)
	// ClosedPulls lists closed pull requests whose head branch starts with
	// headPrefix, most recently updated first, stopping at the first one
	// updated at or before since (zero: all).
	ClosedPulls(ctx context.Context, r Repo, headPrefix string, since time.Time) ([]PullRequest, error)
	CreatePull(ctx context.Context, r Repo, p NewPull) (PullRequest, error)
	EditPull(ctx context.Context, r Repo, number int, title, body string) error
	// ClosePull replaces a pull request's body and closes it without
	// merging, in one call.
	ClosePull(ctx context.Context, r Repo, number int, body string) error
	// MergePull merges a pull request whose head is still sha with
	// method (MergeMerge, MergeSquash or MergeRebase) and commit title.
	MergePull(ctx context.Context, r Repo, number int, sha, method, title string) error
	// DeleteBranch deletes a branch if its head is sha ("" for any) and
	// reports whether it did: a branch that is gone or elsewhere is left
	// alone without an error.
	DeleteBranch(ctx context.Context, r Repo, branch, sha string) (bool, error)
	// RequiredChecks lists the checks that must pass before a pull
	// request into branch may merge: those of its protection and of the
	// rulesets that apply to it.
	RequiredChecks(ctx context.Context, r Repo, branch string) ([]string, error)
	// Checks lists the commit statuses and check runs on sha, the latest
	// of each name.
	Checks(ctx context.Context, r Repo, sha string) ([]Check, error)
	AddLabels(ctx context.Context, r Repo, number int, labels []string) error
	RequestReviewers(ctx context.Context, r Repo, number int, users, teams []string) error
	Comment(ctx context.Context, r Repo, number int, body string) error
	SetStatus(ctx context.Context, r Repo, sha string, s Status) error
	// FindIssue returns the oldest open issue carrying label, or nil.
	FindIssue(ctx context.Context, r Repo, label string) (*Issue, error)
	CreateIssue(ctx context.Context, r Repo, title, body string, labels []string) (Issue, error)
	EditIssue(ctx context.Context, r Repo, number int, title, body string) error
	// GitToken returns a credential for git over HTTPS.
	GitToken(ctx context.Context) (string, error)
}

// ReleaseSource is implemented by forges that host Go modules too: the
// bot links a pull request's modules hosted there to their compare view
// and release notes, read through the API.
type ReleaseSource interface {
	// ModuleHost is the host that module paths hosted on this forge
	// start with ("github.com"), or "" for none.
	ModuleHost() string
	// Repo is as in [Forge]; ErrNotFound when there is no such
	// repository.
	Repo(ctx context.Context, owner, name string) (Repo, error)
	// Releases lists the newest releases (at most 100), newest first,
	// without drafts.
	Releases(ctx context.Context, r Repo) ([]Release, error)
}

// ErrNotFound is matched by errors for missing repositories and the like.
var ErrNotFound = fmt.Errorf("not found")

// ErrReadOnly is returned by the write operations of [Local].
var ErrReadOnly = errors.New("read-only forge: the bot writes nothing here (use --dry-run)")

// APIError is a failed API call: the operation, the repository and the
// cause.
type APIError struct {
	Op   string // e.g. "create pull request"
	Repo string // "owner/name" or the organisation; may be empty
	Err  error
}

func (e *APIError) Error() string {
	if e.Repo == "" {
		return e.Op + ": " + e.Err.Error()
	}
	return e.Repo + ": " + e.Op + ": " + e.Err.Error()
}

func (e *APIError) Unwrap() error { return e.Err }
