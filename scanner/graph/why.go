package graph

import (
	"fmt"
	"sort"
)

// distances runs a breadth-first search over selected edges from the main
// modules and returns each reachable module's distance and its
// predecessors on shortest paths (sorted).
func (g *Graph) distances() (map[string]int, map[string][]string) {
	dist := make(map[string]int, len(g.Modules))
	preds := make(map[string][]string)
	queue := g.Mains()
	for _, m := range queue {
		dist[m] = 0
	}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, d := range g.deps[cur] {
			nd, seen := dist[d.Path]
			switch {
			case !seen:
				dist[d.Path] = dist[cur] + 1
				preds[d.Path] = append(preds[d.Path], cur)
				queue = append(queue, d.Path)
			case nd == dist[cur]+1:
				preds[d.Path] = append(preds[d.Path], cur)
			}
		}
	}
	for _, p := range preds {
		sort.Strings(p)
	}
	return dist, preds
}

// Why returns every shortest path of selected edges from a main module to
// target, each a list of module paths starting with the main module and
// ending with target, sorted. At most limit paths are returned (limit <= 0
// means 1000): the count of shortest paths can grow exponentially in
// diamond-shaped graphs. It returns nil when target is unreachable and
// [][]string{{target}} when target is a main module.
func (g *Graph) Why(target string, limit int) [][]string {
	if limit <= 0 {
		limit = 1000
	}
	dist, preds := g.distances()
	if _, ok := dist[target]; !ok {
		return nil
	}
	var out [][]string
	// Walk backwards from target; rev holds target..current.
	var walk func(cur string, rev []string)
	walk = func(cur string, rev []string) {
		if len(out) >= limit {
			return
		}
		rev = append(rev, cur)
		if dist[cur] == 0 {
			p := make([]string, len(rev))
			for i := range rev {
				p[i] = rev[len(rev)-1-i]
			}
			out = append(out, p)
			return
		}
		for _, pr := range preds[cur] {
			walk(pr, rev)
		}
	}
	walk(target, nil)
	sort.Slice(out, func(i, j int) bool { return lessPath(out[i], out[j]) })
	return out
}

func lessPath(a, b []string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

// Shortest returns one shortest path to target (the first of [Graph.Why]),
// nil if unreachable.
func (g *Graph) Shortest(target string) []string {
	if ps := g.Why(target, 1); len(ps) > 0 {
		return ps[0]
	}
	return nil
}

// Subgraph returns a new graph with only the modules in keep and the
// selected edges between them. Module values are shared with g.
func (g *Graph) Subgraph(keep map[string]bool) *Graph {
	sub := &Graph{Modules: make(map[string]*Module, len(keep)), deps: map[string][]Dep{}, rdeps: map[string][]string{}}
	for p := range keep {
		if m, ok := g.Modules[p]; ok {
			sub.Modules[p] = m
		}
	}
	for from, ds := range g.deps {
		if !keep[from] {
			continue
		}
		for _, d := range ds {
			if keep[d.Path] {
				sub.deps[from] = append(sub.deps[from], d)
				sub.rdeps[d.Path] = append(sub.rdeps[d.Path], from)
				sub.Edges = append(sub.Edges, Edge{From: ModVer{from, g.Modules[from].Version}, To: ModVer{d.Path, d.Requested}})
			}
		}
	}
	for _, rs := range sub.rdeps {
		sort.Strings(rs)
	}
	sort.Slice(sub.Edges, func(i, j int) bool {
		if sub.Edges[i].From.Path != sub.Edges[j].From.Path {
			return sub.Edges[i].From.Path < sub.Edges[j].From.Path
		}
		return sub.Edges[i].To.Path < sub.Edges[j].To.Path
	})
	return sub
}

// PathsGraph returns the subgraph made of the given paths' modules and
// edges (for example the union of [Graph.Why] results).
func (g *Graph) PathsGraph(paths [][]string) *Graph {
	keep := map[string]bool{}
	for _, p := range paths {
		for _, m := range p {
			keep[m] = true
		}
	}
	sub := g.Subgraph(keep)
	// Keep only the edges that lie on the paths.
	onPath := map[[2]string]bool{}
	for _, p := range paths {
		for i := 0; i+1 < len(p); i++ {
			onPath[[2]string{p[i], p[i+1]}] = true
		}
	}
	filtered := &Graph{Modules: sub.Modules, deps: map[string][]Dep{}, rdeps: map[string][]string{}}
	for from, ds := range sub.deps {
		for _, d := range ds {
			if onPath[[2]string{from, d.Path}] {
				filtered.deps[from] = append(filtered.deps[from], d)
				filtered.rdeps[d.Path] = append(filtered.rdeps[d.Path], from)
			}
		}
	}
	for _, e := range sub.Edges {
		if onPath[[2]string{e.From.Path, e.To.Path}] {
			filtered.Edges = append(filtered.Edges, e)
		}
	}
	for _, rs := range filtered.rdeps {
		sort.Strings(rs)
	}
	return filtered
}

// Focus returns the part of the graph around focus: every module on a path
// from a main module to focus, plus focus's dependencies down to depth
// levels below it (depth <= 0: all). With focus "" it keeps the modules
// within depth levels of the main modules (depth <= 0: the whole graph).
func (g *Graph) Focus(focus string, depth int) (*Graph, error) {
	keep := map[string]bool{}
	if focus == "" {
		if depth <= 0 {
			return g, nil
		}
		dist, _ := g.distances()
		for p, d := range dist {
			if d <= depth {
				keep[p] = true
			}
		}
		return g.Subgraph(keep), nil
	}
	if _, ok := g.Modules[focus]; !ok {
		return nil, fmt.Errorf("module %s is not in the build list", focus)
	}
	// Ancestors: modules that reach focus and are reachable from a main
	// module, i.e. that lie on some path main -> focus.
	dist, _ := g.distances()
	anc := map[string]bool{focus: true}
	stack := []string{focus}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, r := range g.rdeps[cur] {
			if _, reach := dist[r]; reach && !anc[r] {
				anc[r] = true
				stack = append(stack, r)
			}
		}
	}
	for p := range anc {
		keep[p] = true
	}
	// Descendants within depth.
	level := []string{focus}
	seen := map[string]bool{focus: true}
	for d := 1; len(level) > 0 && (depth <= 0 || d <= depth); d++ {
		var next []string
		for _, cur := range level {
			for _, dep := range g.deps[cur] {
				if !seen[dep.Path] {
					seen[dep.Path] = true
					keep[dep.Path] = true
					next = append(next, dep.Path)
				}
			}
		}
		level = next
	}
	return g.Subgraph(keep), nil
}
