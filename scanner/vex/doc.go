// Package vex owns modgate's OpenVEX support: the document format
// (OpenVEX v0.2.0, https://github.com/openvex/spec/blob/v0.2.0/OPENVEX-SPEC.md),
// Go module package URLs, loading and validating the documents teams
// commit, an [Index] answering which statements speak about a module
// version, and the [Writer] behind `modgate check --vex`.
//
// A VEX statement is how a team records that an advisory does not reach
// its code; the policy turns a matching not_affected statement into a
// scoped, expiring exception. This package decides nothing itself: it
// parses, validates and matches.
//
// Invariants:
//   - Documents are validated in full when loaded ([CheckDocument]); a
//     load that fails in any file fails as a whole, so a typo never
//     silently drops or widens an exception. Every problem is reported at
//     once, each as an [*Error] naming the file and the field
//     ("statements[3].products[0]").
//   - A statement is about a module version only when a product's @id
//     (or identifiers.purl), or one of its subcomponents', is the
//     pkg:golang purl of that module at that version. A purl without a
//     version, with a subpath (a package, not the module) or of another
//     type never matches: exceptions are scoped to a module version.
//     Module paths compare exactly (Go module paths are case-sensitive);
//     versions compare canonically, build metadata such as +incompatible
//     ignored as the vulnerability database does.
//   - Statements about the same module version and vulnerability (the
//     same name or a shared alias) are resolved as the spec says: the
//     newest wins. A statement's time is its last_updated or timestamp,
//     else its document's; on a tie the statement that exempts less wins
//     (affected, then under_investigation, fixed, not_affected).
//   - Written documents are deterministic: statements sorted, the @id a
//     hash of their content without timestamps, times from an injected
//     clock.
//
// The statuses and justifications a written document uses follow
// govulncheck's own OpenVEX output (golang.org/x/vuln, -format openvex):
// a called vulnerability is affected, an imported but uncalled one is
// not_affected with vulnerable_code_not_in_execute_path, and a module
// that is required but none of whose packages is built is not_affected
// with vulnerable_code_not_present.
package vex
