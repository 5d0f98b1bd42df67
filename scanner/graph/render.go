package graph

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
)

// Style says how a status is drawn in DOT and Mermaid.
type Style struct {
	Fill, Stroke, Font string
}

// Styles are the node colors per annotation (and "main" for main modules).
// Changed entries are also used for diffs ("added", "removed", "upgraded",
// "downgraded").
var styles = map[string]Style{
	"main":       {Fill: "#dbeafe", Stroke: "#1d4ed8", Font: "#1e3a8a"},
	"denied":     {Fill: "#fecaca", Stroke: "#b91c1c", Font: "#7f1d1d"},
	"vulnerable": {Fill: "#fed7aa", Stroke: "#c2410c", Font: "#7c2d12"},
	"warned":     {Fill: "#fef08a", Stroke: "#a16207", Font: "#713f12"},
	"replaced":   {Fill: "#e9d5ff", Stroke: "#7e22ce", Font: "#581c87"},
	"outdated":   {Fill: "#e5e7eb", Stroke: "#4b5563", Font: "#1f2937"},
	"added":      {Fill: "#bbf7d0", Stroke: "#15803d", Font: "#14532d"},
	"removed":    {Fill: "#fecaca", Stroke: "#b91c1c", Font: "#7f1d1d"},
	"upgraded":   {Fill: "#bfdbfe", Stroke: "#1d4ed8", Font: "#1e3a8a"},
	"downgraded": {Fill: "#fde68a", Stroke: "#b45309", Font: "#78350f"},
}

// class returns the style class of m ("" for a plain node).
func class(m *Module) string {
	if p := m.Status.Primary(); p != "" {
		return p
	}
	if m.Main {
		return "main"
	}
	return ""
}

// label returns the two-line label of m.
func label(m *Module) (string, string) {
	second := m.Version
	if m.Replace != nil {
		if m.Replace.Local() {
			second += " => " + m.Replace.Path
		} else {
			second += " => " + m.Replace.Path + "@" + m.Replace.Version
		}
	}
	if m.Update != "" {
		second += " (update " + m.Update + ")"
	}
	return m.Path, strings.TrimSpace(second)
}

// WriteDOT writes g in Graphviz DOT. Node IDs are module paths.
func WriteDOT(w io.Writer, g *Graph) error { return writeDOT(w, g, class) }

func writeDOT(w io.Writer, g *Graph, class func(*Module) string) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("digraph modules {\n")
	bw.WriteString("\trankdir=LR;\n")
	bw.WriteString("\tnode [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", fontname=\"Helvetica\", fontsize=10];\n")
	bw.WriteString("\tedge [fontname=\"Helvetica\", fontsize=8, color=\"#6b7280\"];\n")
	for _, m := range g.Sorted() {
		l1, l2 := label(m)
		lab := l1
		if l2 != "" {
			lab += "\n" + l2
		}
		attrs := []string{"label=" + dotQuote(lab)}
		if c := class(m); c != "" {
			st := styles[c]
			attrs = append(attrs, "fillcolor="+dotQuote(st.Fill), "color="+dotQuote(st.Stroke), "fontcolor="+dotQuote(st.Font))
		}
		if len(m.Notes) > 0 || m.Status != 0 {
			attrs = append(attrs, "tooltip="+dotQuote(strings.Join(append(m.Status.Names(), m.Notes...), "; ")))
		}
		fmt.Fprintf(bw, "\t%s [%s];\n", dotQuote(m.Path), strings.Join(attrs, ", "))
	}
	for _, e := range g.SelectedEdges() {
		to := g.Modules[e.To]
		attrs := ""
		if to != nil && e.Requested != "" && e.Requested != to.Version {
			// The source asks for less than was selected: show the ask.
			attrs = " [label=" + dotQuote(e.Requested) + "]"
		}
		fmt.Fprintf(bw, "\t%s -> %s%s;\n", dotQuote(e.From), dotQuote(e.To), attrs)
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

// dotQuote quotes s as a DOT string: only '"' and '\' need escaping, and
// a newline becomes the centered line break \n.
func dotQuote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// WriteMermaid writes g as a Mermaid flowchart. Node IDs are n0, n1, ...
// in Sorted order, since module paths contain characters Mermaid IDs
// cannot; labels hold the paths.
func WriteMermaid(w io.Writer, g *Graph) error { return writeMermaid(w, g, class) }

func writeMermaid(w io.Writer, g *Graph, class func(*Module) string) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("flowchart LR\n")
	ids := make(map[string]string, len(g.Modules))
	used := map[string]bool{}
	for i, m := range g.Sorted() {
		id := "n" + strconv.Itoa(i)
		ids[m.Path] = id
		l1, l2 := label(m)
		lab := mermaidEscape(l1)
		if l2 != "" {
			lab += "<br/>" + mermaidEscape(l2)
		}
		fmt.Fprintf(bw, "  %s[\"%s\"]\n", id, lab)
		if c := class(m); c != "" {
			used[c] = true
		}
	}
	for _, e := range g.SelectedEdges() {
		to := g.Modules[e.To]
		if to != nil && e.Requested != "" && e.Requested != to.Version {
			fmt.Fprintf(bw, "  %s -->|\"%s\"| %s\n", ids[e.From], mermaidEscape(e.Requested), ids[e.To])
		} else {
			fmt.Fprintf(bw, "  %s --> %s\n", ids[e.From], ids[e.To])
		}
	}
	writeMermaidClasses(bw, used, func(yield func(id, class string)) {
		for _, m := range g.Sorted() {
			if c := class(m); c != "" {
				yield(ids[m.Path], c)
			}
		}
	})
	return bw.Flush()
}

// writeMermaidClasses writes classDef lines for the used classes and one
// class line per class listing its nodes.
func writeMermaidClasses(bw *bufio.Writer, used map[string]bool, each func(func(id, class string))) {
	byClass := map[string][]string{}
	each(func(id, c string) { byClass[c] = append(byClass[c], id) })
	for _, c := range styleOrder {
		if !used[c] {
			continue
		}
		st := styles[c]
		fmt.Fprintf(bw, "  classDef %s fill:%s,stroke:%s,color:%s\n", c, st.Fill, st.Stroke, st.Font)
	}
	for _, c := range styleOrder {
		if ids := byClass[c]; len(ids) > 0 {
			fmt.Fprintf(bw, "  class %s %s\n", strings.Join(ids, ","), c)
		}
	}
}

var styleOrder = []string{"main", "denied", "vulnerable", "warned", "replaced", "outdated", "added", "removed", "upgraded", "downgraded"}

// mermaidEscape makes s safe inside a quoted Mermaid label: quotes and
// the characters Mermaid or Markdown would interpret become entity codes.
func mermaidEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString("#quot;")
		case '<':
			b.WriteString("#lt;")
		case '>':
			b.WriteString("#gt;")
		case '#':
			b.WriteString("#35;")
		case '&':
			b.WriteString("#amp;")
		case '`':
			b.WriteString("#96;")
		case '\n':
			b.WriteString("<br/>")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// JSONGraph is the JSON form of a graph (format version 1).
type JSONGraph struct {
	Version int            `json:"version"`
	Main    []string       `json:"main"`
	Modules []*Module      `json:"modules"`
	Edges   []SelectedEdge `json:"edges"`
	Why     *JSONWhy       `json:"why,omitempty"`
}

// JSONWhy holds the answer to a --why query.
type JSONWhy struct {
	Module string     `json:"module"`
	Paths  [][]string `json:"paths"`
}

// WriteJSON writes g as indented JSON.
func WriteJSON(w io.Writer, g *Graph) error {
	return writeJSON(w, &JSONGraph{Version: 1, Main: g.Mains(), Modules: g.Sorted(), Edges: nonNil(g.SelectedEdges())})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ErrNoGraphviz is returned by [RenderSVG] when the dot command is
// missing.
var ErrNoGraphviz = errors.New(`rendering SVG needs the Graphviz "dot" command, which was not found in PATH: install the graphviz package (for example "apt-get install graphviz" or "brew install graphviz"), or use --format dot and render it elsewhere`)

// DotCommand is the Graphviz command used by [RenderSVG]; tests may point
// it elsewhere through the dot argument.
const DotCommand = "dot"

// RenderSVG renders DOT source to SVG with Graphviz. dot is the command
// ("" means "dot" from PATH); a missing command yields [ErrNoGraphviz].
func RenderSVG(ctx context.Context, w io.Writer, dotSrc []byte, dot string) error {
	return RenderDOT(ctx, w, dotSrc, dot, "svg")
}

// RenderDOT runs Graphviz with -T format on dotSrc.
func RenderDOT(ctx context.Context, w io.Writer, dotSrc []byte, dot, format string) error {
	if dot == "" {
		dot = DotCommand
	}
	bin, err := exec.LookPath(dot)
	if err != nil {
		return ErrNoGraphviz
	}
	cmd := exec.CommandContext(ctx, bin, "-T"+format)
	cmd.Stdin = bytes.NewReader(dotSrc)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("graphviz dot -T%s: %v: %s", format, err, strings.TrimSpace(stderr.String()))
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		// dot prints syntax problems as warnings and still exits 0.
		return fmt.Errorf("graphviz dot -T%s: %s", format, s)
	}
	return nil
}
