// Package proxy owns the Go module proxy protocol as modgate serves it:
// request parsing, the HTTP handlers, caching decisions, verification of
// every artifact before it is cached, and the hook through which a policy
// [Decider] gates what is served.
//
// The protocol is the one described in "go help goproxy" and
// https://go.dev/ref/mod#goproxy-protocol. Invariants this package keeps:
//
//   - Module paths and versions are handled in decoded form; escaping
//     happens only at the edges (URLs and storage keys).
//   - Nothing reaches storage or a client unless it was verified: zips with
//     golang.org/x/mod/zip, go.mod module lines against the path, and both h1
//     hashes against the checksum database (unless the module is private).
//   - Upstream failures become 502/504, never 404/410, so an outage cannot
//     route a client around the proxy to "direct".
//
// The package never imports OPA: policy is reached through the small
// [Decider] interface, wired in by cmd/modgate.
package proxy
