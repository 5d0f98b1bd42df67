// Package policy owns modgate's decisions: it turns facts about a module
// version (vulnerabilities, release age, retractions, licenses, lists) into
// an OPA input document, evaluates the built-in Rego bundle from package
// rules together with the user's own rules, caches the decisions and writes
// the decision log.
//
// Invariants:
//
//   - Decisions are reproducible: "now" is part of the input and the
//     compiler rejects non-deterministic built-ins (time.now_ns, http.send,
//     rand.intn, ...), so the same input always yields the same result.
//   - Failure is closed: an invalid configuration or policy makes
//     [NewEngine] fail, and a fact source error makes [Engine.Decide]
//     return an error, which the proxy turns into a 5xx.
//   - A cached decision is reused only under the same policy digest and
//     vulnerability DB snapshot, and never past the instant a time-based
//     rule may flip it (Result.ValidUntil).
//
// The proxy reaches the engine only through [proxy.Decider] (see
// [Engine.Decider]); package proxy never imports this package or OPA.
// docs/policy.md documents the input document, every built-in rule and its
// configuration, and how to add custom rules; docs/cooldown.md how release
// ages are established.
package policy
