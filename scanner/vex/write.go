package vex

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/semver"
)

// DefaultAuthor is the author of documents a [Writer] makes unless told
// otherwise.
const DefaultAuthor = "modgate check"

// DocumentIDPrefix starts the @id of written documents: OpenVEX's
// public namespace, followed by a content hash.
const DocumentIDPrefix = "https://openvex.dev/docs/public/vex-"

// Reachability is how far a vulnerability reaches into the code, as
// govulncheck determined it.
type Reachability int

// Reachabilities, weakest first.
const (
	// Required: the module is in the build list, but none of its
	// packages is built.
	Required Reachability = iota + 1
	// Imported: a vulnerable package is built, but no vulnerable symbol
	// is called.
	Imported
	// Called: a vulnerable symbol is reachable from the code.
	Called
)

func (r Reachability) String() string {
	switch r {
	case Required:
		return "required"
	case Imported:
		return "imported"
	case Called:
		return "called"
	}
	return fmt.Sprintf("reachability(%d)", int(r))
}

// Fact is one vulnerability found in one module version of a product's
// build.
type Fact struct {
	// Product is the path of the main module whose build was checked;
	// "" makes the module version itself the statement's product.
	Product string
	// Module and Version are the vulnerable module version.
	Module, Version string
	// Vulnerability is the advisory ID (GO-YYYY-NNNN); Aliases its
	// other identifiers.
	Vulnerability string
	Aliases       []string
	Reachability  Reachability
	// Fixed is the first version without the vulnerability; "" means
	// none is known.
	Fixed string
}

// Writer makes OpenVEX documents from facts. The zero value is ready to
// use.
type Writer struct {
	// Author is the document's author; "" means [DefaultAuthor].
	Author string
	// Tooling names the generating tool; "" omits the field.
	Tooling string
	// Now is the clock for the timestamps; nil means time.Now.
	Now func() time.Time
}

// Write writes the document for facts as indented JSON.
func (w *Writer) Write(out io.Writer, facts []Fact) error {
	d, err := w.Document(facts)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return err
	}
	_, err = out.Write(b.Bytes())
	return err
}

// Document builds the document for facts: one statement per product,
// module version and vulnerability, the strongest reachability among
// its facts deciding the status (see the package documentation).
// Statements are sorted by vulnerability, module, version and product;
// the @id hashes the author and the statements without their
// timestamps, so the same findings give the same @id.
func (w *Writer) Document(facts []Fact) (*Document, error) {
	merged, err := mergeFacts(facts)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	ts := now().UTC().Format(time.RFC3339)
	d := &Document{Context: Context, Author: cmp.Or(w.Author, DefaultAuthor), Timestamp: ts,
		Version: 1, Tooling: w.Tooling, Statements: []DocumentStatement{}}
	for _, f := range merged {
		d.Statements = append(d.Statements, statementFor(f, ts))
	}
	d.ID = DocumentIDPrefix + contentHash(d)
	return d, nil
}

// mergeFacts validates facts and folds those about the same product,
// module version and vulnerability into one, sorted.
func mergeFacts(facts []Fact) ([]Fact, error) {
	byKey := map[[4]string]*Fact{}
	var out []*Fact
	for i, f := range facts {
		if err := checkFact(f); err != nil {
			return nil, fmt.Errorf("vex: facts[%d]: %w", i, err)
		}
		k := [4]string{f.Product, f.Module, f.Version, f.Vulnerability}
		m := byKey[k]
		if m == nil {
			m = &Fact{Product: f.Product, Module: f.Module, Version: f.Version, Vulnerability: f.Vulnerability}
			byKey[k] = m
			out = append(out, m)
		}
		m.Aliases = aliases(f.Vulnerability, append(m.Aliases, f.Aliases...))
		m.Reachability = max(m.Reachability, f.Reachability)
		m.Fixed = cmp.Or(m.Fixed, f.Fixed)
	}
	slices.SortFunc(out, func(a, b *Fact) int {
		return cmp.Or(cmp.Compare(a.Vulnerability, b.Vulnerability), cmp.Compare(a.Module, b.Module),
			semver.Compare(a.Version, b.Version), cmp.Compare(a.Version, b.Version), cmp.Compare(a.Product, b.Product))
	})
	res := make([]Fact, len(out))
	for i, f := range out {
		res[i] = *f
	}
	return res, nil
}

func checkFact(f Fact) error {
	switch {
	case f.Module == "" || f.Version == "":
		return fmt.Errorf("%s@%s: module and version are required: statements must be scoped to a module version", f.Module, f.Version)
	case f.Vulnerability == "":
		return fmt.Errorf("%s@%s: no vulnerability ID", f.Module, f.Version)
	case f.Reachability < Required || f.Reachability > Called:
		return fmt.Errorf("%s@%s: %s: %v", f.Module, f.Version, f.Vulnerability, f.Reachability)
	}
	return nil
}

// statementFor states one merged fact.
func statementFor(f Fact, ts string) DocumentStatement {
	subject := f.Module + "@" + f.Version
	s := DocumentStatement{
		Vulnerability: Vulnerability{ID: vulnIRI(f.Vulnerability), Name: f.Vulnerability, Aliases: f.Aliases},
		Timestamp:     ts,
	}
	dep := Component{ID: ModulePURL(f.Module, f.Version)}
	if f.Product != "" {
		s.Products = []Product{{Component: Component{ID: ModulePURL(f.Product, "")}, Subcomponents: []Component{dep}}}
	} else {
		s.Products = []Product{{Component: dep}}
	}
	switch f.Reachability {
	case Called:
		s.Status, s.ActionStatement = StatusAffected, action(f)
	case Imported:
		s.Status, s.Justification = StatusNotAffected, JustificationVulnerableCodeNotInExecutePath
		s.ImpactStatement = fmt.Sprintf("govulncheck found a vulnerable package of %s imported, but no vulnerable symbol called.", subject)
	default:
		s.Status, s.Justification = StatusNotAffected, JustificationVulnerableCodeNotPresent
		s.ImpactStatement = fmt.Sprintf("%s is in the build list, but none of its packages is built.", subject)
	}
	return s
}

// action tells how to remediate a called vulnerability.
func action(f Fact) string {
	if f.Module == "stdlib" || f.Module == "toolchain" {
		if f.Fixed == "" {
			return "No fixed Go release is known: stop calling the vulnerable code."
		}
		return fmt.Sprintf("Upgrade Go to %s or later.", "go"+strings.TrimPrefix(f.Fixed, "v"))
	}
	if f.Fixed == "" {
		return fmt.Sprintf("No fixed version of %s is known: remove the dependency or stop calling the vulnerable code.", f.Module)
	}
	return fmt.Sprintf("Upgrade %s to %s or later.", f.Module, f.Fixed)
}

// vulnIRI links Go advisories to their page, as govulncheck does.
func vulnIRI(id string) string {
	if strings.HasPrefix(id, "GO-") {
		return "https://pkg.go.dev/vuln/" + id
	}
	return ""
}

// contentHash is the SHA-256 of d's author and statements without
// timestamps.
func contentHash(d *Document) string {
	sts := slices.Clone(d.Statements)
	for i := range sts {
		sts[i].Timestamp = ""
	}
	data, err := json.Marshal(struct {
		Author     string              `json:"author"`
		Statements []DocumentStatement `json:"statements"`
	}{d.Author, sts})
	if err != nil {
		panic(err) // plain strings and slices always marshal
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
