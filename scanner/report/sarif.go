package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/url"
	"path/filepath"
	"sort"
	"strings"

	"github.com/modgate/modgate/scanner/check"
)

// SARIF 2.1.0 (https://docs.oasis-open.org/sarif/sarif/v2.1.0/) types:
// only the properties modgate writes.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool               sarifTool                   `json:"tool"`
	AutomationDetails  *sarifAutomation            `json:"automationDetails,omitempty"`
	OriginalURIBaseIDs map[string]sarifArtifactLoc `json:"originalUriBaseIds,omitempty"`
	Results            []sarifResult               `json:"results"`
	Properties         map[string]any              `json:"properties,omitempty"`
}

type sarifAutomation struct {
	ID string `json:"id"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name            string      `json:"name"`
	Version         string      `json:"version,omitempty"`
	SemanticVersion string      `json:"semanticVersion,omitempty"`
	InformationURI  string      `json:"informationUri,omitempty"`
	Rules           []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name,omitempty"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      *sarifText     `json:"fullDescription,omitempty"`
	HelpURI              string         `json:"helpUri,omitempty"`
	Help                 *sarifText     `json:"help,omitempty"`
	DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties,omitempty"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints,omitempty"`
	Properties          map[string]any    `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifactLoc `json:"artifactLocation"`
	Region           *sarifRegion     `json:"region,omitempty"`
}

type sarifArtifactLoc struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

// SARIFSchema is the schema URI written into SARIF logs.
const SARIFSchema = "https://json.schemastore.org/sarif-2.1.0.json"

func sarifLevel(s check.Severity) string {
	switch s {
	case check.SeverityError:
		return "error"
	case check.SeverityWarning:
		return "warning"
	}
	return "note"
}

// securitySeverity ranks vulnerability rules for code scanning by
// reachability, the one thing the check knows better than the advisory.
var securitySeverity = map[check.Kind]string{
	check.KindVulnCalled:   "8.0",
	check.KindVulnImported: "5.0",
	check.KindVulnRequired: "2.0",
}

// WriteSARIF writes the report as a SARIF 2.1.0 log with one run.
func WriteSARIF(w io.Writer, r *check.Report, in Info) error {
	rules := map[string]*sarifRule{}
	worst := map[string]check.Severity{}
	var ruleIDs []string
	for _, f := range r.Findings {
		if _, ok := rules[f.Rule]; !ok {
			rules[f.Rule] = newRule(f)
			ruleIDs = append(ruleIDs, f.Rule)
		}
		if f.Severity > worst[f.Rule] {
			worst[f.Rule] = f.Severity
			rules[f.Rule].DefaultConfiguration.Level = sarifLevel(f.Severity)
			if s, ok := securitySeverity[f.Kind]; ok {
				rules[f.Rule].Properties["security-severity"] = s
			}
		}
	}
	sort.Strings(ruleIDs)
	index := map[string]int{}
	driver := sarifDriver{Name: "modgate", Version: in.ToolVersion, InformationURI: in.ToolURI, Rules: []sarifRule{}}
	for i, id := range ruleIDs {
		index[id] = i
		driver.Rules = append(driver.Rules, *rules[id])
	}
	run := sarifRun{
		Tool:              sarifTool{Driver: driver},
		AutomationDetails: &sarifAutomation{ID: "modgate/check/"},
		Results:           []sarifResult{},
		Properties:        map[string]any{"failOn": in.FailOn.String(), "warnOnly": in.WarnOnly, "notes": append([]string{}, r.Notes...)},
	}
	if r.Base != "" {
		u := url.URL{Scheme: "file", Path: filepath.ToSlash(r.Base)}
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
		}
		run.OriginalURIBaseIDs = map[string]sarifArtifactLoc{"%SRCROOT%": {URI: u.String()}}
	}
	for _, f := range r.Findings {
		msg := f.Message
		if f.Fix != "" {
			msg += " Fix: " + f.Fix + "."
		}
		if len(f.Via) > 2 {
			msg += " Required via " + strings.Join(f.Via, " → ") + "."
		}
		res := sarifResult{
			RuleID:    f.Rule,
			RuleIndex: index[f.Rule],
			Level:     sarifLevel(f.Severity),
			Message:   sarifText{Text: msg},
			Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{
				ArtifactLocation: sarifArtifactLoc{URI: uriPath(f.File), URIBaseID: "%SRCROOT%"},
				Region:           &sarifRegion{StartLine: max(f.Line, 1)},
			}}},
			PartialFingerprints: map[string]string{"modgateFinding/v1": fingerprint(f)},
			Properties:          map[string]any{"kind": string(f.Kind)},
		}
		if f.Module != "" {
			res.Properties["module"] = f.Module
		}
		if f.Version != "" {
			res.Properties["version"] = f.Version
		}
		if f.Detail != "" {
			res.Properties["detail"] = f.Detail
		}
		run.Results = append(run.Results, res)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: SARIFSchema, Version: "2.1.0", Runs: []sarifRun{run}})
}

func newRule(f *check.Finding) *sarifRule {
	r := &sarifRule{ID: f.Rule, DefaultConfiguration: sarifConfig{Level: sarifLevel(f.Severity)}, Properties: map[string]any{}}
	switch f.Kind.Group() {
	case "vuln":
		r.Name = "Vulnerability"
		r.ShortDescription = sarifText{Text: f.Rule + ": a known vulnerability in a dependency"}
		if len(f.Aliases) > 0 {
			r.FullDescription = &sarifText{Text: f.Rule + " (" + strings.Join(f.Aliases, ", ") + ")"}
		}
		r.HelpURI = f.URL
		r.Properties["tags"] = []string{"security", "vulnerability", "dependency"}
	case "policy":
		r.Name = "Policy"
		r.ShortDescription = sarifText{Text: "modgate policy rule " + strings.TrimPrefix(f.Rule, "policy/")}
		r.Properties["tags"] = []string{"security", "policy", "dependency"}
	default:
		r.Name = "Reproducibility"
		r.ShortDescription = sarifText{Text: f.Kind.Title()}
		r.Properties["tags"] = []string{"reproducibility", "dependency"}
	}
	return r
}

// uriPath makes a relative slash path a URI reference (escaping spaces
// and the like).
func uriPath(p string) string {
	return (&url.URL{Path: p}).EscapedPath()
}

// fingerprint identifies a finding across commits: not the line, which
// moves as go.mod is edited.
func fingerprint(f *check.Finding) string {
	h := sha256.Sum256([]byte(strings.Join([]string{f.Rule, string(f.Kind), f.File, f.Module, f.Version}, "\x00")))
	return hex.EncodeToString(h[:16])
}
