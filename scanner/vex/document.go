package vex

import "slices"

// Context is the @context of an OpenVEX v0.2.0 document.
const Context = "https://openvex.dev/ns/v0.2.0"

// Status is a statement's impact status.
type Status string

// The statuses OpenVEX defines.
const (
	StatusNotAffected        Status = "not_affected"
	StatusAffected           Status = "affected"
	StatusFixed              Status = "fixed"
	StatusUnderInvestigation Status = "under_investigation"
)

// statuses lists the valid statuses, from the one that exempts most to
// the one that exempts least: a later status wins a tie (see [Index]).
var statuses = []Status{StatusNotAffected, StatusFixed, StatusUnderInvestigation, StatusAffected}

// Valid reports whether s is one of the statuses OpenVEX defines.
func (s Status) Valid() bool { return slices.Contains(statuses, s) }

// rank orders statuses for tie-breaking: higher exempts less.
func (s Status) rank() int { return slices.Index(statuses, s) }

// Justification says why a product is not affected.
type Justification string

// The justifications OpenVEX defines.
const (
	JustificationComponentNotPresent                         Justification = "component_not_present"
	JustificationVulnerableCodeNotPresent                    Justification = "vulnerable_code_not_present"
	JustificationVulnerableCodeNotInExecutePath              Justification = "vulnerable_code_not_in_execute_path"
	JustificationVulnerableCodeCannotBeControlledByAdversary Justification = "vulnerable_code_cannot_be_controlled_by_adversary"
	JustificationInlineMitigationsAlreadyExist               Justification = "inline_mitigations_already_exist"
)

// Valid reports whether j is one of the justifications OpenVEX defines.
func (j Justification) Valid() bool {
	switch j {
	case JustificationComponentNotPresent, JustificationVulnerableCodeNotPresent,
		JustificationVulnerableCodeNotInExecutePath, JustificationVulnerableCodeCannotBeControlledByAdversary,
		JustificationInlineMitigationsAlreadyExist:
		return true
	}
	return false
}

// Document is an OpenVEX document as serialized. Times are kept as the
// RFC 3339 text they are written as; [CheckDocument] parses them.
type Document struct {
	// Context is [Context].
	Context string `json:"@context"`
	// ID is the IRI identifying the document.
	ID string `json:"@id"`
	// Author is the individual or organization that made the statements.
	Author string `json:"author"`
	// Role is the author's role; "" omits it.
	Role string `json:"role,omitempty"`
	// Timestamp is when the document was issued; statements without a
	// time of their own inherit it.
	Timestamp string `json:"timestamp"`
	// LastUpdated is when the document was last modified; "" omits it.
	LastUpdated string `json:"last_updated,omitempty"`
	// Version is incremented when the content changes; at least 1.
	Version int `json:"version"`
	// Tooling names what generated the document; "" omits it.
	Tooling string `json:"tooling,omitempty"`
	// Statements are the assertions the document makes.
	Statements []DocumentStatement `json:"statements"`
}

// DocumentStatement is one statement as serialized in a [Document]; the
// [Index] answers with resolved [Statement] values instead.
type DocumentStatement struct {
	// ID is an optional IRI naming the statement.
	ID string `json:"@id,omitempty"`
	// Version is the optional statement version (0 omits it).
	Version int `json:"version,omitempty"`
	// Vulnerability is the vulnerability the statement is about.
	Vulnerability Vulnerability `json:"vulnerability"`
	// Timestamp is when the statement was known to be true; "" inherits
	// the document's.
	Timestamp string `json:"timestamp,omitempty"`
	// LastUpdated is when the statement was last updated; "" omits it.
	LastUpdated string `json:"last_updated,omitempty"`
	// Products are what the statement applies to.
	Products []Product `json:"products,omitempty"`
	// Status is the impact status.
	Status Status `json:"status"`
	// Supplier is the supplier of the product; "" omits it.
	Supplier string `json:"supplier,omitempty"`
	// StatusNotes says how the status was determined; "" omits it.
	StatusNotes string `json:"status_notes,omitempty"`
	// Justification is required (or ImpactStatement) for not_affected.
	Justification Justification `json:"justification,omitempty"`
	// ImpactStatement says in prose why the product is not affected.
	ImpactStatement string `json:"impact_statement,omitempty"`
	// ActionStatement says what to do about an affected product.
	ActionStatement string `json:"action_statement,omitempty"`
	// ActionStatementTimestamp is when the action statement was issued.
	ActionStatementTimestamp string `json:"action_statement_timestamp,omitempty"`
}

// Vulnerability names a vulnerability.
type Vulnerability struct {
	// ID is an optional IRI for the vulnerability (for Go advisories,
	// https://pkg.go.dev/vuln/GO-YYYY-NNNN).
	ID string `json:"@id,omitempty"`
	// Name is the main identifier (GO-YYYY-NNNN, CVE-..., GHSA-...).
	Name string `json:"name"`
	// Description is optional free text.
	Description string `json:"description,omitempty"`
	// Aliases are other identifiers of the same vulnerability.
	Aliases []string `json:"aliases,omitempty"`
}

// Component identifies a piece of software by @id, identifiers (purl,
// cpe22, cpe23) or hashes.
type Component struct {
	ID          string            `json:"@id,omitempty"`
	Identifiers map[string]string `json:"identifiers,omitempty"`
	Hashes      map[string]string `json:"hashes,omitempty"`
}

// purls returns the component's package URLs: its @id when that is a
// purl, and identifiers.purl.
func (c *Component) purls() []string {
	var out []string
	if isPURL(c.ID) {
		out = append(out, c.ID)
	}
	if p := c.Identifiers["purl"]; p != "" && p != c.ID {
		out = append(out, p)
	}
	return out
}

// Product is a component a statement applies to, with the subcomponents
// (dependencies) where the vulnerability originates.
type Product struct {
	Component
	Subcomponents []Component `json:"subcomponents,omitempty"`
}
