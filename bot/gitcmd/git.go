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
	"fmt"
	"os"
	"os/exec"
	"strings"
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
	name, email := g.Name, g.Email
	if name == "" {
		name = "modgate-bot"
	}
	if email == "" {
		email = "modgate-bot@users.noreply.invalid"
	}
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

// Clone makes a shallow single-branch clone of branch into dir and
// returns the head commit.
func (g *Git) Clone(ctx context.Context, url, branch, dir string) (string, error) {
	if _, err := g.Run(ctx, "", "clone", "--quiet", "--depth=1", "--single-branch", "--branch", branch, "--no-tags", url, dir); err != nil {
		return "", err
	}
	return g.Head(ctx, dir)
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

// ForcePush pushes HEAD to branch on the origin remote, replacing
// whatever is there: bot branches belong to the bot. The lease makes the
// push fail when someone else pushed to the branch after the bot last saw
// it at expect ("" means the branch must not exist).
func (g *Git) ForcePush(ctx context.Context, dir, branch, expect string) error {
	lease := "--force-with-lease=refs/heads/" + branch + ":" + expect
	_, err := g.Run(ctx, dir, "push", "--quiet", "--no-verify", lease, "origin", "HEAD:refs/heads/"+branch)
	return err
}

// Changed lists the files that differ between HEAD's parent and HEAD.
func (g *Git) Changed(ctx context.Context, dir string) ([]string, error) {
	out, err := g.Run(ctx, dir, "diff", "--name-only", "HEAD~1", "HEAD")
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}
