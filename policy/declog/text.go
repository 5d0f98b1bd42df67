package declog

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText writes rep as plain-text tables: a summary, then the top
// modules, rules and clients by denials.
func WriteText(w io.Writer, rep *Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "decision logs: %s\n", strings.Join(rep.Files, ", "))
	fmt.Fprintf(tw, "records: %d (%s, %s), %s, %s skipped\n",
		rep.Records, plural(rep.Decisions, "decision"), plural(rep.Listings, "listing"), plural(rep.Errors, "error"), plural(rep.Skipped, "line"))
	if rep.Sampled {
		fmt.Fprintf(tw, "sampled: about %s requests; counts scale each record by 1/sample_rate\n", count(rep.Requests))
	}
	if !rep.FirstSeen.IsZero() {
		fmt.Fprintf(tw, "period: %s to %s\n", stamp(rep.FirstSeen), stamp(rep.LastSeen))
	}
	t := rep.Total
	if t.Deny+t.Audit == 0 {
		fmt.Fprintln(tw, "denials: none")
		return tw.Flush()
	}
	fmt.Fprintf(tw, "denials: %s (deny %s, audit %s) of %s in %s by %s\n", count(t.Deny+t.Audit), count(t.Deny), count(t.Audit),
		plural(t.Versions, "version"), plural(t.Modules, "module"), plural(t.Clients, "client"))

	fmt.Fprintf(tw, "\nMODULE\tDENY\tAUDIT\tVERSIONS\tCLIENTS\tRULES\tFIRST SEEN\tLAST SEEN\n")
	for _, r := range rep.Modules {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", r.Name, count(r.Deny), count(r.Audit), r.Versions, r.Clients, rules(r.Rules), stamp(r.FirstSeen), stamp(r.LastSeen))
	}
	more(tw, len(rep.Modules), rep.ModulesCount)

	fmt.Fprintf(tw, "\nRULE\tDENY\tAUDIT\tMODULES\tVERSIONS\tCLIENTS\tFIRST SEEN\tLAST SEEN\n")
	for _, r := range rep.Rules {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", name(r.Name, "(none)"), count(r.Deny), count(r.Audit), r.Modules, r.Versions, r.Clients, stamp(r.FirstSeen), stamp(r.LastSeen))
	}
	more(tw, len(rep.Rules), rep.RulesCount)

	fmt.Fprintf(tw, "\nCLIENT\tDENY\tAUDIT\tMODULES\tVERSIONS\tRULES\tFIRST SEEN\tLAST SEEN\n")
	for _, r := range rep.Clients {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", name(r.Name, "(unknown)"), count(r.Deny), count(r.Audit), r.Modules, r.Versions, rules(r.Rules), stamp(r.FirstSeen), stamp(r.LastSeen))
	}
	more(tw, len(rep.Clients), rep.ClientsCount)
	return tw.Flush()
}

func more(w io.Writer, shown, total int) {
	if total > shown {
		fmt.Fprintf(w, "(%d more)\n", total-shown)
	}
}

// count prints a possibly scaled count: whole numbers as such, others
// with one decimal.
func count(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return strconv.FormatInt(int64(x), 10)
	}
	return strconv.FormatFloat(x, 'f', 1, 64)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func rules(rs []string) string {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = name(r, "(none)")
	}
	return strings.Join(names, ",")
}

func name(s, unknown string) string {
	if s == "" {
		return unknown
	}
	return s
}
