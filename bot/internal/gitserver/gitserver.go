// Package gitserver serves bare git repositories over smart HTTP for the
// bot's tests: the real git-http-backend (from `git --exec-path`) behind
// net/http/cgi, with push enabled and the bot's token required as basic
// auth, the way GitHub accepts it.
package gitserver

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
)

// Server is a running git HTTP server.
type Server struct {
	// URL is the base URL; repositories are at URL/<owner>/<name>.git.
	URL string
	// Root holds the bare repositories as <owner>/<name>.git.
	Root string
	// Token is the password required for every request.
	Token string

	pushes atomic.Int64
}

// Start starts a server requiring token; it is closed in t.Cleanup.
func Start(t testing.TB, token string) *Server {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Fatalf("git-http-backend: %v", err)
	}
	s := &Server{Root: t.TempDir(), Token: token}
	h := &cgi.Handler{
		Path: backend,
		Root: "/",
		Env: []string{
			"GIT_PROJECT_ROOT=" + s.Root,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"HOME=" + s.Root,
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pass, ok := r.BasicAuth()
		if !ok || pass != token {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			s.pushes.Add(1)
		}
		if len(r.TransferEncoding) > 0 {
			// git sends chunked bodies, which CGI cannot pass on: buffer.
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			r.TransferEncoding = nil
		}
		// git-http-backend allows receive-pack only for an authenticated user.
		h2 := *h
		h2.Env = append(h2.Env, "REMOTE_USER=bot")
		h2.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Pushes counts push requests seen.
func (s *Server) Pushes() int { return int(s.pushes.Load()) }

// CloneURL returns the HTTPS (here HTTP) clone URL of owner/name.
func (s *Server) CloneURL(owner, name string) string {
	return s.URL + "/" + owner + "/" + name + ".git"
}

func (s *Server) dir(owner, name string) string {
	return filepath.Join(s.Root, owner, name+".git")
}

func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir,
		"GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=test@example.invalid",
		"GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=test@example.invalid")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimSpace(string(out))
}

// CreateRepo creates owner/name with files committed on branch main and
// returns the commit.
func (s *Server) CreateRepo(t testing.TB, owner, name string, files map[string]string) string {
	t.Helper()
	bare := s.dir(owner, name)
	if err := os.MkdirAll(bare, 0o755); err != nil {
		t.Fatal(err)
	}
	git(t, bare, "init", "--quiet", "--bare", "--initial-branch=main")
	git(t, bare, "config", "http.receivepack", "true")
	return s.Commit(t, owner, name, "main", "initial commit", files)
}

// Commit adds a commit changing files (a "" value deletes) on branch
// and returns it. A new branch starts at main (when it exists).
func (s *Server) Commit(t testing.TB, owner, name, branch, msg string, files map[string]string) string {
	t.Helper()
	wt := t.TempDir()
	bare := s.dir(owner, name)
	switch {
	case s.Ref(t, owner, name, branch) != "":
		git(t, wt, "clone", "--quiet", "--branch", branch, bare, ".")
	case s.Ref(t, owner, name, "main") != "":
		git(t, wt, "clone", "--quiet", "--branch", "main", bare, ".")
		git(t, wt, "checkout", "--quiet", "-b", branch)
	default:
		git(t, wt, "init", "--quiet", "--initial-branch="+branch)
		git(t, wt, "remote", "add", "origin", bare)
	}
	for p, content := range files {
		full := filepath.Join(wt, filepath.FromSlash(p))
		if content == "" {
			os.Remove(full)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, wt, "add", "--all", ".")
	git(t, wt, "commit", "--quiet", "--allow-empty", "-m", msg)
	git(t, wt, "push", "--quiet", "origin", "HEAD:refs/heads/"+branch)
	return git(t, wt, "rev-parse", "HEAD")
}

// Ref returns the commit of branch, or "" if it does not exist.
func (s *Server) Ref(t testing.TB, owner, name, branch string) string {
	t.Helper()
	cmd := exec.Command("git", "rev-parse", "--verify", "--quiet", "refs/heads/"+branch)
	cmd.Dir = s.dir(owner, name)
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// RefOK is Ref without a testing.TB, for servers answering API calls.
func (s *Server) RefOK(owner, name, branch string) string {
	cmd := exec.Command("git", "rev-parse", "--verify", "--quiet", "refs/heads/"+branch)
	cmd.Dir = s.dir(owner, name)
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// run runs git in dir for the servers answering API calls (no
// testing.TB there), as a committer named "GitHub".
func run(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir,
		"GIT_AUTHOR_NAME=GitHub", "GIT_AUTHOR_EMAIL=noreply@github.example.invalid",
		"GIT_COMMITTER_NAME=GitHub", "GIT_COMMITTER_EMAIL=noreply@github.example.invalid")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// Merge merges branch head into base the way GitHub's merge button does
// (method "merge", "squash" or "rebase") and returns the new base commit.
// A conflict is an error and changes nothing.
func (s *Server) Merge(owner, name, head, base, method, title string) (string, error) {
	wt, err := os.MkdirTemp("", "gitserver-merge-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(wt)
	steps := [][]string{
		{"clone", "--quiet", "--branch", base, s.dir(owner, name), "."},
		{"fetch", "--quiet", "origin", "refs/heads/" + head + ":refs/remotes/origin/" + head},
	}
	switch method {
	case "squash":
		steps = append(steps, []string{"merge", "--quiet", "--squash", "origin/" + head}, []string{"commit", "--quiet", "--allow-empty", "-m", title})
	case "rebase":
		steps = append(steps, []string{"rebase", "--quiet", "HEAD", "origin/" + head}, []string{"checkout", "--quiet", "-B", base})
	default:
		steps = append(steps, []string{"merge", "--quiet", "--no-ff", "-m", title, "origin/" + head})
	}
	steps = append(steps, []string{"push", "--quiet", "origin", "HEAD:refs/heads/" + base})
	for _, args := range steps {
		if _, err := run(wt, args...); err != nil {
			return "", err
		}
	}
	return run(wt, "rev-parse", "HEAD")
}

// DeleteRef deletes branch.
func (s *Server) DeleteRef(owner, name, branch string) error {
	_, err := run(s.dir(owner, name), "update-ref", "-d", "refs/heads/"+branch)
	return err
}

// Refs returns every branch of owner/name with its commit, as
// "branch sha" lines sorted by branch.
func (s *Server) Refs(t testing.TB, owner, name string) []string {
	t.Helper()
	out := git(t, s.dir(owner, name), "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads/")
	lines := strings.Split(out, "\n")
	sort.Strings(lines)
	return lines
}

// Show returns path at rev (e.g. a branch) in owner/name.
func (s *Server) Show(t testing.TB, owner, name, rev, path string) string {
	t.Helper()
	return git(t, s.dir(owner, name), "show", rev+":"+path)
}

// Clone checks out branch of owner/name into a new directory.
func (s *Server) Clone(t testing.TB, owner, name, branch string) string {
	t.Helper()
	dir := t.TempDir()
	git(t, dir, "clone", "--quiet", "--branch", branch, s.dir(owner, name), ".")
	return dir
}

// BasicAuth returns the Authorization header value for the token.
func BasicAuth(token string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+token))
}
