// Package forge owns the bot's conversation with the code host: the
// GitHub REST API (github.com/google/go-github/v60) for repositories, pull
// requests, labels, comments, issues and commit statuses, authenticated
// with a token or as a GitHub App installation, with rate-limit back-off.
//
// Git traffic (clone, push) does not go through this package; [GitHub.GitToken]
// hands the credential to the git runner.
package forge

import (
	"context"
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

// ErrNotFound is matched by errors for missing repositories and the like.
var ErrNotFound = fmt.Errorf("not found")

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
