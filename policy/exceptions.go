package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"time"

	"github.com/modgate/modgate/internal/yamlconf"
	"github.com/modgate/modgate/scanner/vex"
	"github.com/open-policy-agent/opa/v1/ast"
)

// defaultVEXMaxAge is how long a VEX statement counts when vex_max_age is
// not set.
const defaultVEXMaxAge = 180 * 24 * time.Hour

// waiverFile is the content of a file named by waiver_files.
type waiverFile struct {
	Waivers []Waiver `yaml:"waivers"`
}

// externals are the parts of a policy read from other files than its
// configuration: waiver files and VEX documents. They are read again on
// every reload.
type externals struct {
	waivers []any // normalized, as data.modgate.config.waivers holds them
	files   []waiverFileContent
	vex     *vex.Index
	digest  string // of everything read
}

// waiverFileContent is one loaded waiver file, kept so that its rule
// names can be checked against the loaded rules and its expiries reported,
// each problem at its line in the file.
type waiverFileContent struct {
	file    string
	doc     *yamlconf.Doc
	waivers []Waiver
}

// loadExternals reads cfg's waiver files and VEX documents. A waiver
// file's problems are reported at their line in that file.
func loadExternals(cfg *Config) (*externals, error) {
	ext := &externals{}
	h := sha256.New()
	var errs []error
	for _, file := range cfg.WaiverFiles {
		wf, ws, data, err := loadWaiverFile(file)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		h.Write(data)
		ext.waivers = append(ext.waivers, ws...)
		ext.files = append(ext.files, wf)
	}
	if len(cfg.VEX) > 0 {
		idx, err := vex.Load(cfg.VEX...)
		if err != nil {
			errs = append(errs, yamlconf.Errorf("vex", "%w", err))
		} else {
			ext.vex = idx
			h.Write([]byte(idx.Digest()))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	ext.digest = hex.EncodeToString(h.Sum(nil))
	return ext, nil
}

// loadWaiverFile reads and validates one waiver file.
func loadWaiverFile(file string) (waiverFileContent, []any, []byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return waiverFileContent{}, nil, nil, yamlconf.Errorf("waiver_files", "%w", err)
	}
	var wf waiverFile
	doc, err := yamlconf.Decode(file, data, &wf)
	if err != nil {
		return waiverFileContent{}, nil, nil, err
	}
	c := Config{Waivers: wf.Waivers}
	norm, err := c.normalize()
	if err != nil {
		return waiverFileContent{}, nil, nil, doc.Locate(err)
	}
	return waiverFileContent{file: file, doc: doc, waivers: wf.Waivers}, norm["waivers"].([]any), data, nil
}

// checkRuleNames checks the rule names of the files' waivers, locating
// each problem in its file.
func (ext *externals) checkRuleNames(known []string) error {
	var errs []error
	for _, f := range ext.files {
		errs = append(errs, f.doc.Locate(waiverRuleErrors(f.waivers, known)))
	}
	return errors.Join(errs...)
}

// vexInput renders the VEX statements about module@version for the input
// document, with the instant each stops counting.
func vexInput(idx *vex.Index, maxAge time.Duration, module, version string) []VEXStatement {
	if idx == nil {
		return nil
	}
	sts := idx.Statements(module, version)
	if len(sts) == 0 {
		return nil
	}
	out := make([]VEXStatement, 0, len(sts))
	for _, st := range sts {
		s := VEXStatement{
			Vulnerability: st.Vulnerability, Aliases: st.Aliases, Status: string(st.Status),
			Justification: string(st.Justification), Impact: st.ImpactStatement,
			Source: st.Source.File, Timestamp: st.Timestamp,
		}
		if s.Aliases == nil {
			s.Aliases = []string{}
		}
		if maxAge >= 0 {
			s.Expires = st.Timestamp.Add(maxAge)
		}
		out = append(out, s)
	}
	return out
}

// VEXStatement is one VEX statement as rules see it in input.vex.
type VEXStatement struct {
	Vulnerability string
	Aliases       []string
	Status        string // not_affected, affected, fixed, under_investigation
	Justification string
	Impact        string
	// Source is the document's file.
	Source    string
	Timestamp time.Time
	// Expires is when the statement stops excepting the vulnerability
	// (Timestamp plus vex_max_age); zero means never.
	Expires time.Time
}

// vexJSON is the JSON form of a VEXStatement (times in RFC 3339 and ns).
type vexJSON struct {
	Vulnerability string   `json:"vulnerability"`
	Aliases       []string `json:"aliases"`
	Status        string   `json:"status"`
	Justification string   `json:"justification"`
	Impact        string   `json:"impact_statement"`
	Source        string   `json:"source"`
	Timestamp     string   `json:"timestamp"`
	TimestampNS   int64    `json:"timestamp_ns"`
	Expires       string   `json:"expires"`
	ExpiresNS     int64    `json:"expires_ns"`
}

func vexJSONs(sts []VEXStatement) []vexJSON {
	out := make([]vexJSON, 0, len(sts))
	for _, s := range sts {
		aliases := s.Aliases
		if aliases == nil {
			aliases = []string{}
		}
		out = append(out, vexJSON{s.Vulnerability, aliases, s.Status, s.Justification, s.Impact, s.Source,
			timeString(s.Timestamp), timeNS(s.Timestamp), timeString(s.Expires), timeNS(s.Expires)})
	}
	return out
}

func fromVEXJSON(js []vexJSON) []VEXStatement {
	var out []VEXStatement
	for _, j := range js {
		at := func(ns int64, s string) time.Time {
			if ns != 0 {
				return time.Unix(0, ns).UTC()
			}
			t, _ := time.Parse(time.RFC3339Nano, s)
			return t
		}
		out = append(out, VEXStatement{j.Vulnerability, j.Aliases, j.Status, j.Justification, j.Impact, j.Source,
			at(j.TimestampNS, j.Timestamp), at(j.ExpiresNS, j.Expires)})
	}
	return out
}

// vexValue builds input.vex as an OPA value (see Input.value).
func vexValue(sts []VEXStatement) *ast.Term {
	terms := make([]*ast.Term, len(sts))
	for i, s := range sts {
		aliases := make([]*ast.Term, len(s.Aliases))
		for k, a := range s.Aliases {
			aliases[k] = ast.StringTerm(a)
		}
		terms[i] = ast.ObjectTerm(
			ast.Item(ast.StringTerm("vulnerability"), ast.StringTerm(s.Vulnerability)),
			ast.Item(ast.StringTerm("aliases"), ast.ArrayTerm(aliases...)),
			ast.Item(ast.StringTerm("status"), ast.StringTerm(s.Status)),
			ast.Item(ast.StringTerm("justification"), ast.StringTerm(s.Justification)),
			ast.Item(ast.StringTerm("impact_statement"), ast.StringTerm(s.Impact)),
			ast.Item(ast.StringTerm("source"), ast.StringTerm(s.Source)),
			ast.Item(ast.StringTerm("timestamp"), ast.StringTerm(timeString(s.Timestamp))),
			ast.Item(ast.StringTerm("timestamp_ns"), ast.IntNumberTerm(int(timeNS(s.Timestamp)))),
			ast.Item(ast.StringTerm("expires"), ast.StringTerm(timeString(s.Expires))),
			ast.Item(ast.StringTerm("expires_ns"), ast.IntNumberTerm(int(timeNS(s.Expires)))),
		)
	}
	return ast.ArrayTerm(terms...)
}
