package proxy_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/proxy/proxytest"
)

// TestChecksumDBFailureHeals checks that one failed checksum-database
// request fails verification with a "retry" answer, is remembered no
// longer than the retry backoff, and heals without a restart.
func TestChecksumDBFailureHeals(t *testing.T) {
	tests := []struct {
		name  string
		fault string // upstream path pattern that fails once
	}{
		{"lookup", "/sumdb/" + proxytest.DefaultSumDBName + "/lookup/*"},
		{"tile", "/sumdb/" + proxytest.DefaultSumDBName + "/tile/*"},
		{"supported", "/sumdb/" + proxytest.DefaultSumDBName + "/supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil, func(e *env) { e.cache.Verifier.Now = e.clock.Now })
			e.up.SetFaultN(tt.fault, proxytest.FaultStatus500, 1)
			path := "/example.com/hello/@v/v1.1.0.mod"
			status, body, _ := e.get(t, path)
			if status != http.StatusBadGateway || !strings.Contains(body, "retry") || !strings.Contains(body, "example.com/hello@v1.1.0") {
				t.Fatalf("GET %s with the database failing = %d %q, want 502 naming the version and saying retry", path, status, body)
			}
			if files := e.artifactFiles(t); hasFileContaining(files, "v1.1.0.mod") {
				t.Fatalf("unverified go.mod stored: %v", files)
			}
			e.clock.Advance(2 * time.Second) // past the retry backoff
			if status, body, _ := e.get(t, path); status != http.StatusOK {
				t.Fatalf("GET %s after the database recovered = %d %q, want 200 without a restart", path, status, body)
			}
			// Other versions verify too: nothing of the failure is left.
			if status, body, _ := e.get(t, "/example.com/hello/@v/v1.0.0.zip"); status != http.StatusOK {
				t.Fatalf("GET v1.0.0.zip after recovery = %d %q", status, body)
			}
		})
	}
}

// TestChecksumDBFailureBackoff checks that within the backoff a failed
// lookup is answered from memory rather than hammering the database.
func TestChecksumDBFailureBackoff(t *testing.T) {
	e := newEnv(t, nil, func(e *env) { e.cache.Verifier.Now = e.clock.Now })
	lookup := "/sumdb/" + proxytest.DefaultSumDBName + "/lookup/example.com/hello@v1.1.0"
	e.up.SetFaultN(lookup, proxytest.FaultStatus500, 1)
	path := "/example.com/hello/@v/v1.1.0.mod"
	for i := 0; i < 3; i++ {
		if status, _, _ := e.get(t, path); status != http.StatusBadGateway {
			t.Fatalf("GET %d within the backoff = %d, want 502", i, status)
		}
	}
	if n := e.up.Count(lookup); n != 1 {
		t.Errorf("database saw %d lookups within the backoff, want 1", n)
	}
}

// TestPassthroughKeepsPrivatePathsLocal checks that /sumdb/ lookups of
// private paths are answered by modgate and never forwarded.
func TestPassthroughKeepsPrivatePathsLocal(t *testing.T) {
	e := newEnv(t, nil, func(e *env) { e.cache.Verifier.NoSumDB = "corp.example.com,*.internal" })
	db := "/sumdb/" + proxytest.DefaultSumDBName
	tests := []struct {
		path   string
		status int
		want   string
	}{
		{db + "/lookup/corp.example.com/lib@v1.0.0", 404, "corp.example.com/lib is private"},
		{db + "/lookup/git.corp.internal/x/!y@v1.0.0", 404, "git.corp.internal/x/Y is private"},
		{db + "/lookup/example.com/hello@v1.1.0", 200, "example.com/hello v1.1.0 h1:"},
		{db + "/lookup/example.com/hello", 400, "malformed"},
		{db + "/lookup/Example.com/hello@v1.1.0", 400, "malformed"},
	}
	for _, tt := range tests {
		status, body, _ := e.get(t, tt.path)
		if status != tt.status || !strings.Contains(body, tt.want) {
			t.Errorf("GET %s = %d %q, want %d containing %q", tt.path, status, body, tt.status, tt.want)
		}
	}
	for p, n := range e.up.Counts() {
		if strings.Contains(p, "corp") {
			t.Errorf("upstream saw %d requests for private path %s", n, p)
		}
	}
}
