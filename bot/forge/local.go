package forge

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Local is a read-only [Forge] for one git checkout on disk, so the bot
// can plan against a repository without a code host (`modgate bot
// --local DIR --dry-run`): the repository has no pull requests and no
// dashboard, its default branch is the checkout's HEAD commit, and every
// write returns [ErrReadOnly].
type Local struct {
	// Dir is the checkout (any directory inside a git work tree).
	Dir string
}

// Name returns the "owner/name" the checkout is known as: that of its
// origin remote's URL when it has one ("https://github.com/acme/svc.git"
// is acme/svc), else "local/<directory name>".
func (l *Local) Name() (string, error) {
	top, err := l.top()
	if err != nil {
		return "", err
	}
	if out, err := exec.Command("git", "-C", top, "remote", "get-url", "origin").Output(); err == nil {
		if name := ownerName(strings.TrimSpace(string(out))); name != "" {
			return name, nil
		}
	}
	return "local/" + filepath.Base(top), nil
}

// ownerName returns "owner/name" from the last two path elements of a
// git remote URL (https, ssh or scp-like), or "".
func ownerName(remote string) string {
	p := remote
	if u, err := url.Parse(remote); err == nil && u.Scheme != "" {
		p = u.Path
	} else if _, after, ok := strings.Cut(remote, ":"); ok && !strings.Contains(remote, "://") {
		p = after // git@host:owner/name.git
	}
	parts := strings.Split(strings.Trim(strings.TrimSuffix(p, ".git"), "/"), "/")
	if len(parts) < 2 || parts[len(parts)-2] == "" || parts[len(parts)-1] == "" {
		return ""
	}
	return parts[len(parts)-2] + "/" + parts[len(parts)-1]
}

func (l *Local) top() (string, error) {
	abs, err := filepath.Abs(l.Dir)
	if err != nil {
		return "", err
	}
	out, err := exec.Command("git", "-C", abs, "rev-parse", "--show-toplevel").CombinedOutput()
	if err != nil {
		if _, serr := os.Stat(abs); serr != nil {
			return "", fmt.Errorf("local checkout: %w", serr)
		}
		return "", fmt.Errorf("local checkout %s is not in a git work tree: %s", l.Dir, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// Repo implements [Forge]: any owner and name answer with the checkout.
// DefaultBranch is empty: the clone takes the checkout's HEAD.
func (l *Local) Repo(ctx context.Context, owner, name string) (Repo, error) {
	top, err := l.top()
	if err != nil {
		return Repo{}, err
	}
	return Repo{Owner: owner, Name: name, CloneURL: "file://" + filepath.ToSlash(top)}, nil
}

// OrgRepos implements [Forge]; a checkout has no organisation.
func (l *Local) OrgRepos(ctx context.Context, org string) ([]Repo, error) {
	return nil, fmt.Errorf("organisation %s: a local checkout has none", org)
}

// OpenPulls implements [Forge]: none.
func (l *Local) OpenPulls(ctx context.Context, r Repo, headPrefix string) ([]PullRequest, error) {
	return nil, nil
}

// ClosedPulls implements [Forge]: none.
func (l *Local) ClosedPulls(ctx context.Context, r Repo, headPrefix string, since time.Time) ([]PullRequest, error) {
	return nil, nil
}

// FindIssue implements [Forge]: none.
func (l *Local) FindIssue(ctx context.Context, r Repo, label string) (*Issue, error) { return nil, nil }

// RequiredChecks implements [Forge]: none.
func (l *Local) RequiredChecks(ctx context.Context, r Repo, branch string) ([]string, error) {
	return nil, nil
}

// Checks implements [Forge]: none.
func (l *Local) Checks(ctx context.Context, r Repo, sha string) ([]Check, error) { return nil, nil }

// GitToken implements [Forge]: none is needed.
func (l *Local) GitToken(ctx context.Context) (string, error) { return "", nil }

// CreatePull implements [Forge] with [ErrReadOnly].
func (l *Local) CreatePull(ctx context.Context, r Repo, p NewPull) (PullRequest, error) {
	return PullRequest{}, ErrReadOnly
}

// EditPull implements [Forge] with [ErrReadOnly].
func (l *Local) EditPull(ctx context.Context, r Repo, number int, title, body string) error {
	return ErrReadOnly
}

// ClosePull implements [Forge] with [ErrReadOnly].
func (l *Local) ClosePull(ctx context.Context, r Repo, number int, body string) error {
	return ErrReadOnly
}

// MergePull implements [Forge] with [ErrReadOnly].
func (l *Local) MergePull(ctx context.Context, r Repo, number int, sha, method, title string) error {
	return ErrReadOnly
}

// DeleteBranch implements [Forge] with [ErrReadOnly].
func (l *Local) DeleteBranch(ctx context.Context, r Repo, branch, sha string) (bool, error) {
	return false, ErrReadOnly
}

// AddLabels implements [Forge] with [ErrReadOnly].
func (l *Local) AddLabels(ctx context.Context, r Repo, number int, labels []string) error {
	return ErrReadOnly
}

// RequestReviewers implements [Forge] with [ErrReadOnly].
func (l *Local) RequestReviewers(ctx context.Context, r Repo, number int, users, teams []string) error {
	return ErrReadOnly
}

// Comment implements [Forge] with [ErrReadOnly].
func (l *Local) Comment(ctx context.Context, r Repo, number int, body string) error {
	return ErrReadOnly
}

// SetStatus implements [Forge] with [ErrReadOnly].
func (l *Local) SetStatus(ctx context.Context, r Repo, sha string, s Status) error {
	return ErrReadOnly
}

// CreateIssue implements [Forge] with [ErrReadOnly].
func (l *Local) CreateIssue(ctx context.Context, r Repo, title, body string, labels []string) (Issue, error) {
	return Issue{}, ErrReadOnly
}

// EditIssue implements [Forge] with [ErrReadOnly].
func (l *Local) EditIssue(ctx context.Context, r Repo, number int, title, body string) error {
	return ErrReadOnly
}
