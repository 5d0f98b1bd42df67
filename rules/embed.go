// Package rules holds modgate's built-in Rego policy bundle: one package per
// rule under data.modgate.rules, the aggregator (package modgate) that turns
// their findings into a decision, and the opa-test style unit tests
// (*_test.rego) that pin every rule's behaviour.
//
// This package is data, not code: it only embeds the files. Package policy
// compiles and evaluates them; see docs/policy.md for the input document and
// the configuration each rule reads.
package rules

import (
	"embed"
	"io/fs"
	"strings"
)

//go:embed *.rego
var files embed.FS

// FS returns the embedded bundle: every .rego file, tests included.
func FS() fs.FS { return files }

// IsTest reports whether name is a Rego test file, which the policy engine
// compiles only when running tests.
func IsTest(name string) bool { return strings.HasSuffix(name, "_test.rego") }
