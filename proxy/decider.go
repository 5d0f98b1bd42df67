package proxy

import (
	"context"
	"time"
)

// Kind is the kind of artifact a request asks for.
type Kind string

// The artifact kinds of the module proxy protocol.
const (
	KindList   Kind = "list"   // $module/@v/list
	KindInfo   Kind = "info"   // $module/@v/$version.info
	KindMod    Kind = "mod"    // $module/@v/$version.mod
	KindZip    Kind = "zip"    // $module/@v/$version.zip
	KindLatest Kind = "latest" // $module/@latest
)

// Query is what the proxy asks a [Decider] about one module version.
type Query struct {
	Module  string // decoded module path
	Version string // canonical version
	// Kind is the artifact the client asked for. For a version considered
	// while filtering a list or resolving @latest it is KindList or
	// KindLatest.
	Kind Kind
	// Time is the .info time of the version; zero when not known.
	Time time.Time
	// FirstSeen is when modgate first saw the version in the upstream's
	// list (or, for versions already listed the first time modgate listed
	// the module, the .info time). Zero when not known.
	FirstSeen time.Time
	// Client identifies the requester when known (for example the
	// authenticated user or the remote address); it is used only for logs
	// and rules that want it.
	Client string
}

// Decision is a [Decider]'s verdict on one [Query].
type Decision struct {
	// Deny lists the violations that deny the version. An empty Deny
	// means the version may be served.
	Deny []Violation
	// Warn lists violations that do not block; the proxy reports them in
	// a response header and the log.
	Warn []Violation
	// Audit lists violations that would deny the version in enforce mode
	// but were downgraded because their rule runs in audit mode.
	Audit []Violation
}

// Allowed reports whether the decision lets the version through.
func (d Decision) Allowed() bool { return len(d.Deny) == 0 }

// Violation is one rule's finding.
type Violation struct {
	Rule string `json:"rule"`
	Msg  string `json:"msg"`
	// Fix is a short hint the client can act on (a fixed version, a
	// recommended replacement, how to request a waiver). Optional.
	Fix string `json:"fix,omitempty"`
}

// Decider decides whether a module version may be served. Implementations
// must be safe for concurrent use. An error means the decision could not be
// made; the proxy then fails closed with a 5xx.
type Decider interface {
	Decide(ctx context.Context, q Query) (Decision, error)
}

// AllowAll is the [Decider] used when no policy is configured.
type AllowAll struct{}

// Decide allows every version.
func (AllowAll) Decide(context.Context, Query) (Decision, error) { return Decision{}, nil }

// Prefetcher is implemented by deciders that can load a module's facts
// ahead of the decision. On a cache miss the proxy calls Prefetch in the
// background while it downloads, so the upstream round trips the policy
// needs (list, latest go.mod) overlap the download instead of following
// it. Prefetch must be safe for concurrent use and may ignore errors.
type Prefetcher interface {
	Prefetch(ctx context.Context, module string)
}
