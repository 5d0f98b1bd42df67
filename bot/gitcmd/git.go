// Package gitcmd runs the real git binary for the bot: shallow clones of
// a repository's default branch, commits on bot branches, and pushes over
// HTTPS. The token travels in an http.extraHeader passed through git's
// GIT_CONFIG_* environment, so it never appears in a command line, a
// remote URL or a .git/config file.
package gitcmd

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Git runs git commands.
type Git struct {
	// Token authenticates HTTPS traffic as basic auth
	// "x-access-token:<token>", which GitHub accepts for both personal
	// and installation tokens. Empty means anonymous.
	Token string
	// Env is the base environment; nil means os.Environ().
	Env []string
	// Name and Email sign the bot's commits. Empty means "modgate-bot"
	// and "modgate-bot@users.noreply.invalid".
	Name, Email string
	// Now dates the bot's commits. Nil means git's own clock.
	Now func() time.Time
}

// Error is a failed git command with its output.
type Error struct {
	Args   []string
	Output string
	Err    error
}

func (e *Error) Error() string {
	out := strings.TrimSpace(e.Output)
	if out == "" {
		return fmt.Sprintf("git %s: %v", strings.Join(e.Args, " "), e.Err)
	}
	return fmt.Sprintf("git %s: %v: %s", strings.Join(e.Args, " "), e.Err, out)
}

func (e *Error) Unwrap() error { return e.Err }

func (g *Git) env() []string {
	env := g.Env
	if env == nil {
		env = os.Environ()
	}
	name, email := g.Identity()
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GIT_") {
			continue // a caller's GIT_DIR or GIT_CONFIG_* must not leak in
		}
		out = append(out, kv)
	}
	out = append(out,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME="+name, "GIT_AUTHOR_EMAIL="+email,
		"GIT_COMMITTER_NAME="+name, "GIT_COMMITTER_EMAIL="+email,
	)
	if g.Now != nil {
		d := g.Now().Format(time.RFC3339)
		out = append(out, "GIT_AUTHOR_DATE="+d, "GIT_COMMITTER_DATE="+d)
	}
	cfg := [][2]string{{"init.defaultBranch", "main"}, {"advice.detachedHead", "false"}, {"commit.gpgSign", "false"}}
	if g.Token != "" {
		auth := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + g.Token))
		cfg = append(cfg, [2]string{"http.extraHeader", "Authorization: Basic " + auth})
	}
	out = append(out, fmt.Sprintf("GIT_CONFIG_COUNT=%d", len(cfg)))
	for i, kv := range cfg {
		out = append(out, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, kv[0]), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, kv[1]))
	}
	return out
}

// Run runs git args in dir and returns its standard output.
func (g *Git) Run(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = g.env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), &Error{Args: args, Output: redact(stderr.String(), g.Token), Err: err}
	}
	return stdout.String(), nil
}

func redact(s, token string) string {
	if token == "" {
		return s
	}
	return strings.ReplaceAll(s, token, "***")
}

// Clone makes a shallow single-branch clone of branch ("" for the
// remote's HEAD) into dir and returns the head commit.
func (g *Git) Clone(ctx context.Context, url, branch, dir string) (string, error) {
	args := []string{"clone", "--quiet", "--depth=1", "--single-branch", "--no-tags"}
	if branch != "" {
		args = append(args, "--branch", branch)
	}
	if _, err := g.Run(ctx, "", append(args, url, dir)...); err != nil {
		return "", err
	}
	return g.Head(ctx, dir)
}

// Identity returns the name and email the bot's commits carry.
func (g *Git) Identity() (name, email string) {
	name, email = g.Name, g.Email
	if name == "" {
		name = "modgate-bot"
	}
	if email == "" {
		email = "modgate-bot@users.noreply.invalid"
	}
	return name, email
}

// Commit is one commit of a branch.
type Commit struct {
	SHA, Subject string
	// Author and Committer are "Name <email>"; AuthorEmail and
	// CommitterEmail the addresses alone.
	Author, AuthorEmail       string
	Committer, CommitterEmail string
}

// BranchCommits fetches the newest depth commits of branch from origin
// and returns its head and the commits not reachable from any of stop
// (commits that are not present locally are skipped as stops), newest
// first.
func (g *Git) BranchCommits(ctx context.Context, dir, branch string, stop []string, depth int) (string, []Commit, error) {
	ref := "refs/modgate-inspect/" + branch
	if _, err := g.Run(ctx, dir, "fetch", "--quiet", "--no-tags", fmt.Sprintf("--depth=%d", depth), "origin", "+refs/heads/"+branch+":"+ref); err != nil {
		return "", nil, err
	}
	tip, err := g.Run(ctx, dir, "rev-parse", ref)
	if err != nil {
		return "", nil, err
	}
	args := []string{"log", fmt.Sprintf("-n%d", depth), "--format=%H%x1f%an <%ae>%x1f%ae%x1f%cn <%ce>%x1f%ce%x1f%s", ref}
	for _, s := range stop {
		if s == "" {
			continue
		}
		if _, err := g.Run(ctx, dir, "cat-file", "-e", s+"^{commit}"); err == nil {
			args = append(args, "^"+s)
		}
	}
	out, err := g.Run(ctx, dir, args...)
	if err != nil {
		return "", nil, err
	}
	var cs []Commit
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\x1f")
		if len(f) != 6 {
			continue
		}
		cs = append(cs, Commit{SHA: f[0], Author: f[1], AuthorEmail: f[2], Committer: f[3], CommitterEmail: f[4], Subject: f[5]})
	}
	return strings.TrimSpace(tip), cs, nil
}

// Clean discards every change to the work tree of dir (tracked and
// untracked files).
func (g *Git) Clean(ctx context.Context, dir string) error {
	if _, err := g.Run(ctx, dir, "reset", "--quiet", "--hard"); err != nil {
		return err
	}
	_, err := g.Run(ctx, dir, "clean", "-fdq")
	return err
}

// Diff returns the patch of the commit HEAD (against its parent).
func (g *Git) Diff(ctx context.Context, dir string) (string, error) {
	return g.Run(ctx, dir, "show", "--format=", "--no-color", "--no-ext-diff", "HEAD")
}

// Head returns the commit HEAD points at.
func (g *Git) Head(ctx context.Context, dir string) (string, error) {
	out, err := g.Run(ctx, dir, "rev-parse", "HEAD")
	return strings.TrimSpace(out), err
}

// CommitAll commits every change in the work tree (new, modified and
// deleted files) on a new branch started at HEAD, and returns the commit,
// or "" when there is nothing to commit.
func (g *Git) CommitAll(ctx context.Context, dir, branch, message string) (string, error) {
	if _, err := g.Run(ctx, dir, "checkout", "--quiet", "-B", branch); err != nil {
		return "", err
	}
	if _, err := g.Run(ctx, dir, "add", "--all", "."); err != nil {
		return "", err
	}
	if out, err := g.Run(ctx, dir, "status", "--porcelain"); err != nil {
		return "", err
	} else if strings.TrimSpace(out) == "" {
		return "", nil
	}
	if _, err := g.Run(ctx, dir, "commit", "--quiet", "--no-verify", "-m", message); err != nil {
		return "", err
	}
	return g.Head(ctx, dir)
}

// ForcePush pushes HEAD to branch on the origin remote, replacing the
// commit the bot last pushed there. The lease makes the push fail, as an
// error matching [ErrStale], when the branch is not at expect ("" means
// the branch must not exist): someone else pushed to it.
func (g *Git) ForcePush(ctx context.Context, dir, branch, expect string) error {
	lease := "--force-with-lease=refs/heads/" + branch + ":" + expect
	_, err := g.Run(ctx, dir, "push", "--quiet", "--no-verify", lease, "origin", "HEAD:refs/heads/"+branch)
	var ge *Error
	if errors.As(err, &ge) && (strings.Contains(ge.Output, "stale info") || strings.Contains(ge.Output, "already exists")) {
		return fmt.Errorf("%w: %v", ErrStale, err)
	}
	return err
}

// ErrStale is matched by a push refused by its lease.
var ErrStale = errors.New("the branch changed since the bot last pushed it")

// Changed lists the files that differ between HEAD's parent and HEAD.
func (g *Git) Changed(ctx context.Context, dir string) ([]string, error) {
	out, err := g.Run(ctx, dir, "diff", "--name-only", "HEAD~1", "HEAD")
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}
