// Package api owns modgate's decision API: the wire types, the HTTP
// handler a modgate server mounts under /api/v1/, and the client that
// `modgate check --proxy` and the update bot use, so that every consumer
// of a server's verdicts speaks one definition of them.
//
// Endpoints (JSON, version 1):
//
//	POST /api/v1/decisions         decide module versions (a [DecideRequest])
//	GET  /api/v1/module?path=P     a module's facts and every listed version's
//	     [&since=V][&kind=K]       verdict (a [Module]); since limits the
//	                               versions to those above V
//
// Both answer with the server's policy and facts, exactly as its GOPROXY
// endpoints would decide the same versions.
package api

import (
	"time"

	"github.com/modgate/modgate/proxy"
)

// Kind is the artifact kind a decision is asked for.
type Kind = proxy.Kind

// Violation is one rule's finding.
type Violation = proxy.Violation

// ModuleVersion names one module version.
type ModuleVersion struct {
	Path    string `json:"path"`
	Version string `json:"version"`
}

// DecideRequest is the body of POST /api/v1/decisions.
type DecideRequest struct {
	// Kind is the artifact kind to decide for; empty means "zip" (the
	// strictest: what a build downloads).
	Kind    Kind            `json:"kind,omitempty"`
	Modules []ModuleVersion `json:"modules"`
}

// DecideResponse answers a [DecideRequest], in request order.
type DecideResponse struct {
	Decisions []Decision `json:"decisions"`
}

// Decision is the verdict on one module version.
type Decision struct {
	Path    string      `json:"path"`
	Version string      `json:"version"`
	Allowed bool        `json:"allowed"`
	Deny    []Violation `json:"deny,omitempty"`
	Warn    []Violation `json:"warn,omitempty"`
	Audit   []Violation `json:"audit,omitempty"`
	// Suggest is the nearest version the policy allows, for a fix.
	Suggest string `json:"suggest,omitempty"`
	// Error is set when no decision could be made for this version.
	Error string `json:"error,omitempty"`
}

// Verdict returns the decision as the proxy's type.
func (d Decision) Verdict() proxy.Decision {
	return proxy.Decision{Deny: d.Deny, Warn: d.Warn, Audit: d.Audit, Suggest: d.Suggest}
}

// Rules returns the names of the rules that deny, sorted as the policy
// sorts its findings.
func (d Decision) Rules() []string {
	var out []string
	for _, v := range d.Deny {
		out = append(out, v.Rule)
	}
	return out
}

// Module is the answer of GET /api/v1/module: what the server knows about
// a module and its verdict on each listed version.
type Module struct {
	Path string `json:"path"`
	// Latest is the version the go command would resolve @latest to
	// with no policy; LatestAllowed the one the server resolves it to.
	Latest        string `json:"latest,omitempty"`
	LatestAllowed string `json:"latest_allowed,omitempty"`
	// Deprecated is the latest go.mod's deprecation notice, if any.
	Deprecated string `json:"deprecated,omitempty"`
	// Versions are the listed versions (above since, when given),
	// ascending.
	Versions []Version `json:"versions"`
	// Truncated reports that only the newest versions are included.
	Truncated bool `json:"truncated,omitempty"`
	// VulnDB identifies the vulnerability database snapshot.
	VulnDB string `json:"vulndb"`
}

// Version is one listed version with its facts and verdict.
type Version struct {
	Version string `json:"version"`
	// Time is the version's .info time.
	Time      time.Time `json:"time,omitzero"`
	Retracted bool      `json:"retracted,omitempty"`
	Rationale string    `json:"rationale,omitempty"`
	// Vulns are the IDs of the vulnerability entries affecting it.
	Vulns    []string `json:"vulns,omitempty"`
	Decision Decision `json:"decision"`
}

// MaxDecisionModules bounds one decisions request.
const MaxDecisionModules = 5000

// MaxModuleVersions bounds the versions one module answer details.
const MaxModuleVersions = 200
