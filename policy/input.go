package policy

import (
	"encoding/json"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/facts"
)

// Kind is the artifact kind a decision is for (info, mod, zip, list,
// latest); it is the proxy's own type.
type Kind = proxy.Kind

// Violation is one rule's finding ({rule, msg, fix}); it is the proxy's own
// type, so results pass through the adapter without copying.
type Violation = proxy.Violation

// Request is what a caller asks a decision about; the engine gathers every
// other fact from the facts service, so callers cannot disagree on them.
type Request struct {
	Module  string // decoded module path
	Version string // canonical version
	Kind    Kind
	// Client identifies the requester.
	Client proxy.Client
}

// Update describes the step from the previous allowed version.
type Update struct {
	// Previous is the highest lower listed version that is not retracted
	// (pre-releases count only when Version is one); "" if none.
	Previous string `json:"previous"`
	// Type is patch, minor, major, or initial when there is no Previous.
	Type string `json:"type"`
}

// Input is the document the Rego policy evaluates as input. Its JSON form
// (see MarshalJSON and docs/policy.md) is what rules see; times appear
// both as RFC 3339 strings and as nanoseconds since the epoch (the *_ns
// fields, 0 when unknown) for arithmetic.
type Input struct {
	Module    string
	Version   string
	Kind      Kind
	Time      time.Time // .info time; zero when not fetched
	FirstSeen time.Time // when modgate first saw the version
	// Initial reports that the version already existed at modgate's
	// first contact with the module.
	Initial bool
	// Released is the release time ages are measured from (see
	// facts.Release); zero when unknown. ReleaseBasis says how it was
	// obtained: first_seen, info, first_contact or unknown.
	Released     time.Time
	ReleaseBasis string
	Now          time.Time // the evaluation instant; rules never read the clock
	Pseudo       bool      // the version is a pseudo-version
	Prerelease   bool      // the version has a pre-release suffix (pseudo-versions may too)
	Incompatible bool      // the version has +incompatible
	Update       Update
	// Latest is the version whose go.mod supplied the retraction and
	// deprecation facts; "" when unknown.
	Latest              string
	Retracted           bool
	RetractionRationale string
	Deprecated          bool
	Deprecation         string
	// Vulns are the entries affecting the version (all of them; rules
	// apply review status and ignore lists).
	Vulns []Vuln
	// Fixes are the entries present in every older allowed version that
	// this version is not affected by. Computed only while the version
	// is younger than the longest configured cooldown; otherwise nil.
	Fixes []Vuln
	// VEX are the statements of the configured VEX documents about this
	// module version (the newest per vulnerability).
	VEX []VEXStatement
	// Licenses are the detected SPDX IDs; LicenseStatus is "detected",
	// "none" (scanned, nothing found) or "unavailable" (not scanned).
	Licenses      []string
	LicenseStatus string
	Client        string
	// VulnDB is the vulnerability database snapshot the facts came from.
	VulnDB string
}

// License statuses.
const (
	LicensesDetected    = facts.LicensesDetected
	LicensesNone        = facts.LicensesNone
	LicensesUnavailable = facts.LicensesUnavailable
)

// setVersionFlags fills Pseudo, Prerelease and Incompatible from Version.
func (in *Input) setVersionFlags() {
	in.Pseudo = module.IsPseudoVersion(in.Version)
	in.Prerelease = semver.Prerelease(in.Version) != ""
	in.Incompatible = semver.Build(in.Version) == "+incompatible"
}

func timeString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func timeNS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

type inputJSON struct {
	Module              string    `json:"module"`
	Version             string    `json:"version"`
	Kind                Kind      `json:"kind"`
	Time                string    `json:"time"`
	TimeNS              int64     `json:"time_ns"`
	FirstSeen           string    `json:"first_seen"`
	FirstSeenNS         int64     `json:"first_seen_ns"`
	Initial             bool      `json:"initial"`
	Released            string    `json:"released"`
	ReleasedNS          int64     `json:"released_ns"`
	ReleaseBasis        string    `json:"release_basis"`
	Now                 string    `json:"now"`
	NowNS               int64     `json:"now_ns"`
	Pseudo              bool      `json:"pseudo"`
	Prerelease          bool      `json:"prerelease"`
	Incompatible        bool      `json:"incompatible"`
	Update              Update    `json:"update"`
	Latest              string    `json:"latest"`
	Retracted           bool      `json:"retracted"`
	RetractionRationale string    `json:"retraction_rationale"`
	Deprecated          bool      `json:"deprecated"`
	Deprecation         string    `json:"deprecation"`
	Vulns               []Vuln    `json:"vulns"`
	Fixes               []Vuln    `json:"fixes"`
	VEX                 []vexJSON `json:"vex"`
	Licenses            []string  `json:"licenses"`
	LicenseStatus       string    `json:"license_status"`
	Client              string    `json:"client"`
	VulnDB              string    `json:"vulndb"`
}

// MarshalJSON renders the input document.
func (in Input) MarshalJSON() ([]byte, error) {
	nz := func(v []Vuln) []Vuln {
		if v == nil {
			return []Vuln{}
		}
		for i := range v {
			if v[i].Aliases == nil {
				v = append([]Vuln(nil), v...)
				for j := range v {
					if v[j].Aliases == nil {
						v[j].Aliases = []string{}
					}
				}
				break
			}
		}
		return v
	}
	lic := in.Licenses
	if lic == nil {
		lic = []string{}
	}
	return json.Marshal(inputJSON{
		Module: in.Module, Version: in.Version, Kind: in.Kind,
		Time: timeString(in.Time), TimeNS: timeNS(in.Time),
		FirstSeen: timeString(in.FirstSeen), FirstSeenNS: timeNS(in.FirstSeen),
		Initial:  in.Initial,
		Released: timeString(in.Released), ReleasedNS: timeNS(in.Released), ReleaseBasis: in.ReleaseBasis,
		Now: timeString(in.Now), NowNS: timeNS(in.Now),
		Pseudo: in.Pseudo, Prerelease: in.Prerelease, Incompatible: in.Incompatible,
		Update: in.Update, Latest: in.Latest,
		Retracted: in.Retracted, RetractionRationale: in.RetractionRationale,
		Deprecated: in.Deprecated, Deprecation: in.Deprecation,
		Vulns: nz(in.Vulns), Fixes: nz(in.Fixes), VEX: vexJSONs(in.VEX),
		Licenses: lic, LicenseStatus: in.LicenseStatus,
		Client: in.Client, VulnDB: in.VulnDB,
	})
}

// UnmarshalJSON parses the input document (for tests and `policy eval
// --input`); the *_ns fields win over the strings.
func (in *Input) UnmarshalJSON(b []byte) error {
	var j inputJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	parse := func(s string, ns int64) time.Time {
		if ns != 0 {
			return time.Unix(0, ns).UTC()
		}
		t, _ := time.Parse(time.RFC3339Nano, s)
		return t
	}
	*in = Input{
		Module: j.Module, Version: j.Version, Kind: j.Kind,
		Time: parse(j.Time, j.TimeNS), FirstSeen: parse(j.FirstSeen, j.FirstSeenNS), Now: parse(j.Now, j.NowNS),
		Initial: j.Initial, Released: parse(j.Released, j.ReleasedNS), ReleaseBasis: j.ReleaseBasis,
		Pseudo: j.Pseudo, Prerelease: j.Prerelease, Incompatible: j.Incompatible,
		Update: j.Update, Latest: j.Latest,
		Retracted: j.Retracted, RetractionRationale: j.RetractionRationale,
		Deprecated: j.Deprecated, Deprecation: j.Deprecation,
		Vulns: j.Vulns, Fixes: j.Fixes, VEX: fromVEXJSON(j.VEX), Licenses: j.Licenses, LicenseStatus: j.LicenseStatus,
		Client: j.Client, VulnDB: j.VulnDB,
	}
	return nil
}

// value builds the input as an OPA value directly, avoiding a JSON round
// trip on the hot path. TestInputValueMatchesJSON keeps it in step with
// MarshalJSON.
func (in *Input) value() ast.Value {
	str := ast.StringTerm
	num := func(n int64) *ast.Term { return ast.IntNumberTerm(int(n)) }
	vulns := func(vs []Vuln) *ast.Term {
		terms := make([]*ast.Term, len(vs))
		for i, v := range vs {
			aliases := make([]*ast.Term, len(v.Aliases))
			for k, a := range v.Aliases {
				aliases[k] = str(a)
			}
			terms[i] = ast.ObjectTerm(
				ast.Item(str("id"), str(v.ID)),
				ast.Item(str("aliases"), ast.ArrayTerm(aliases...)),
				ast.Item(str("summary"), str(v.Summary)),
				ast.Item(str("reviewed"), ast.BooleanTerm(v.Reviewed)),
				ast.Item(str("fixed"), str(v.Fixed)),
			)
		}
		return ast.ArrayTerm(terms...)
	}
	lic := make([]*ast.Term, len(in.Licenses))
	for i, l := range in.Licenses {
		lic[i] = str(l)
	}
	return ast.NewObject(
		ast.Item(str("module"), str(in.Module)),
		ast.Item(str("version"), str(in.Version)),
		ast.Item(str("kind"), str(string(in.Kind))),
		ast.Item(str("time"), str(timeString(in.Time))),
		ast.Item(str("time_ns"), num(timeNS(in.Time))),
		ast.Item(str("first_seen"), str(timeString(in.FirstSeen))),
		ast.Item(str("first_seen_ns"), num(timeNS(in.FirstSeen))),
		ast.Item(str("initial"), ast.BooleanTerm(in.Initial)),
		ast.Item(str("released"), str(timeString(in.Released))),
		ast.Item(str("released_ns"), num(timeNS(in.Released))),
		ast.Item(str("release_basis"), str(in.ReleaseBasis)),
		ast.Item(str("now"), str(timeString(in.Now))),
		ast.Item(str("now_ns"), num(timeNS(in.Now))),
		ast.Item(str("pseudo"), ast.BooleanTerm(in.Pseudo)),
		ast.Item(str("prerelease"), ast.BooleanTerm(in.Prerelease)),
		ast.Item(str("incompatible"), ast.BooleanTerm(in.Incompatible)),
		ast.Item(str("update"), ast.ObjectTerm(
			ast.Item(str("previous"), str(in.Update.Previous)),
			ast.Item(str("type"), str(in.Update.Type)),
		)),
		ast.Item(str("latest"), str(in.Latest)),
		ast.Item(str("retracted"), ast.BooleanTerm(in.Retracted)),
		ast.Item(str("retraction_rationale"), str(in.RetractionRationale)),
		ast.Item(str("deprecated"), ast.BooleanTerm(in.Deprecated)),
		ast.Item(str("deprecation"), str(in.Deprecation)),
		ast.Item(str("vulns"), vulns(in.Vulns)),
		ast.Item(str("fixes"), vulns(in.Fixes)),
		ast.Item(str("vex"), vexValue(in.VEX)),
		ast.Item(str("licenses"), ast.ArrayTerm(lic...)),
		ast.Item(str("license_status"), str(in.LicenseStatus)),
		ast.Item(str("client"), str(in.Client)),
		ast.Item(str("vulndb"), str(in.VulnDB)),
	)
}
