package graph

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// Mermaid is a parsed Mermaid flowchart of the subset [WriteMermaid]
// writes.
type Mermaid struct {
	Direction string
	// Nodes maps node IDs to their decoded labels.
	Nodes map[string]string
	// Edges are in order; Label is the decoded edge text ("" if none).
	Edges []MermaidEdge
	// ClassDefs maps class names to their style text.
	ClassDefs map[string]string
	// Classes maps node IDs to their class.
	Classes map[string]string
}

// MermaidEdge is one "a --> b" line.
type MermaidEdge struct {
	From, To, Label string
}

var (
	mmHeader   = regexp.MustCompile(`^flowchart (LR|RL|TB|TD|BT)$`)
	mmNode     = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_]*)\["([^"]*)"\]$`)
	mmEdge     = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_]*) -->(?:\|"([^"]*)"\|)? ([A-Za-z][A-Za-z0-9_]*)$`)
	mmClassDef = regexp.MustCompile(`^classDef ([A-Za-z][A-Za-z0-9_-]*) ((?:[a-z-]+:[^,\s]+)(?:,[a-z-]+:[^,\s]+)*)$`)
	mmClass    = regexp.MustCompile(`^class ([A-Za-z][A-Za-z0-9_]*(?:,[A-Za-z][A-Za-z0-9_]*)*) ([A-Za-z][A-Za-z0-9_-]*)$`)
)

// ParseMermaid parses a flowchart strictly: any line outside the subset
// modgate writes, an edge to an undeclared node, a class without a
// classDef, or a label with raw special characters is an error. It exists
// so outputs can be checked by reading them back.
func ParseMermaid(r io.Reader) (*Mermaid, error) {
	m := &Mermaid{Nodes: map[string]string{}, ClassDefs: map[string]string{}, Classes: map[string]string{}}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "%%") {
			continue
		}
		if m.Direction == "" {
			sub := mmHeader.FindStringSubmatch(line)
			if sub == nil {
				return nil, fmt.Errorf("mermaid:%d: want a flowchart header, got %q", n, line)
			}
			m.Direction = sub[1]
			continue
		}
		switch {
		case mmNode.MatchString(line):
			sub := mmNode.FindStringSubmatch(line)
			if _, dup := m.Nodes[sub[1]]; dup {
				return nil, fmt.Errorf("mermaid:%d: node %s declared twice", n, sub[1])
			}
			lab, err := mermaidUnescape(sub[2])
			if err != nil {
				return nil, fmt.Errorf("mermaid:%d: %v", n, err)
			}
			m.Nodes[sub[1]] = lab
		case mmEdge.MatchString(line):
			sub := mmEdge.FindStringSubmatch(line)
			for _, id := range []string{sub[1], sub[3]} {
				if _, ok := m.Nodes[id]; !ok {
					return nil, fmt.Errorf("mermaid:%d: edge uses undeclared node %s", n, id)
				}
			}
			lab, err := mermaidUnescape(sub[2])
			if err != nil {
				return nil, fmt.Errorf("mermaid:%d: %v", n, err)
			}
			m.Edges = append(m.Edges, MermaidEdge{From: sub[1], To: sub[3], Label: lab})
		case mmClassDef.MatchString(line):
			sub := mmClassDef.FindStringSubmatch(line)
			m.ClassDefs[sub[1]] = sub[2]
		case mmClass.MatchString(line):
			sub := mmClass.FindStringSubmatch(line)
			if _, ok := m.ClassDefs[sub[2]]; !ok {
				return nil, fmt.Errorf("mermaid:%d: class %s used before its classDef", n, sub[2])
			}
			for _, id := range strings.Split(sub[1], ",") {
				if _, ok := m.Nodes[id]; !ok {
					return nil, fmt.Errorf("mermaid:%d: class on undeclared node %s", n, id)
				}
				m.Classes[id] = sub[2]
			}
		default:
			return nil, fmt.Errorf("mermaid:%d: unexpected line %q", n, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if m.Direction == "" {
		return nil, fmt.Errorf("mermaid: empty diagram")
	}
	return m, nil
}

var mmEntity = regexp.MustCompile(`#(quot|lt|gt|amp|[0-9]+);`)

// mermaidUnescape decodes the entity codes mermaidEscape writes and turns
// <br/> into a newline; a raw '<', '>' or '"' is an error.
func mermaidUnescape(s string) (string, error) {
	s = strings.ReplaceAll(s, "<br/>", "\n")
	if strings.ContainsAny(s, `<>"`+"`") {
		return "", fmt.Errorf("unescaped special character in label %q", s)
	}
	var err error
	out := mmEntity.ReplaceAllStringFunc(s, func(e string) string {
		switch name := e[1 : len(e)-1]; name {
		case "quot":
			return `"`
		case "lt":
			return "<"
		case "gt":
			return ">"
		case "amp":
			return "&"
		default:
			var code int
			fmt.Sscanf(name, "%d", &code)
			if code <= 0 || code > 0x10FFFF {
				err = fmt.Errorf("bad entity %s", e)
				return ""
			}
			return string(rune(code))
		}
	})
	return out, err
}

// NodeByLabelPrefix returns the ID of the node whose label's first line is
// path, "" if none.
func (m *Mermaid) NodeByLabelPrefix(path string) string {
	for id, lab := range m.Nodes {
		if first, _, _ := strings.Cut(lab, "\n"); first == path {
			return id
		}
	}
	return ""
}
