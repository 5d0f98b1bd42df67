# Package modgate.lib holds helpers shared by the built-in rules. Custom rules
# may import it too; its functions are part of the documented surface.
package modgate.lib

# cfg is the normalized configuration the engine stores at
# data.modgate.config (see policy.Config); every field is present, so rules
# read it directly. Tests supply it with `with data.modgate.config as ...`.
cfg := data.modgate.config

day_ns := 86400000000000

hour_ns := 3600000000000

# semv turns a canonical Go version ("v1.2.3") into the SemVer 2.0 form that
# semver.compare accepts ("1.2.3"). +incompatible is build metadata and,
# as in the go command, does not affect ordering.
semv(v) := trim_prefix(v, "v")

# version_in reports whether version v satisfies constraint c. The engine
# normalizes a textual constraint such as ">= v1.2.0, < v2 || v3.0.1" into a
# list of alternatives, each a list of {"op", "v"} terms that must all hold;
# an empty list matches every version.
version_in(_, c) if count(c) == 0

version_in(v, c) if {
	some alt in c
	every t in alt {
		cmp(semver.compare(semv(v), t.v), t.op)
	}
}

cmp(r, "=") if r == 0

cmp(r, "!=") if r != 0

cmp(r, "<") if r < 0

cmp(r, "<=") if r <= 0

cmp(r, ">") if r > 0

cmp(r, ">=") if r >= 0

# module_match reports whether module path m matches list entry e. "exact"
# compares whole paths; "prefix" matches the path and everything below it
# ("example.com/org" matches "example.com/org/x" but not
# "example.com/organic"; a trailing "/" drops the path itself); "regex" is an
# unanchored RE2 match.
module_match(e, m) if match_kind(e.match, e.module, m)

# match_kind dispatches on the match kind, a constant argument OPA's rule
# index uses to pick the one clause that applies.
match_kind("exact", p, m) if m == p

match_kind("prefix", p, m) if {
	not endswith(p, "/")
	m == p
}

match_kind("prefix", p, m) if startswith(m, concat("", [trim_suffix(p, "/"), "/"]))

match_kind("regex", p, m) if regex.match(p, m)

# max_version returns the highest of a non-empty array of Go versions.
max_version(vs) := m if {
	some m in vs
	every o in vs {
		semver.compare(semv(o), semv(m)) <= 0
	}
}

# vuln_counted reports whether vulnerability entry v counts under the
# vulns configuration: reviewed entries always, unreviewed ones only with
# include_unreviewed, and never an entry whose ID or alias is ignored.
vuln_counted(v) if {
	v.reviewed == true
	not vuln_ignored(v)
}

vuln_counted(v) if {
	v.reviewed == false
	data.modgate.config.vulns.include_unreviewed == true
	not vuln_ignored(v)
}

ignored_ids := {id | some id in data.modgate.config.vulns.ignore}

vuln_ignored(v) if v.id in ignored_ids

vuln_ignored(v) if {
	some a in v.aliases
	a in ignored_ids
}

# vuln_name renders an entry as "ID (ALIAS, ALIAS)".
vuln_name(v) := v.id if {
	count(v.aliases) == 0
} else := sprintf("%s (%s)", [v.id, concat(", ", v.aliases)])

# fmt_time renders nanoseconds since the epoch as RFC 3339 in UTC.
fmt_time(ns) := time.format([ns, "UTC", "2006-01-02T15:04:05Z07:00"])

# opt returns "" for an empty s and pre+s otherwise, for optional message parts.
opt(_, "") := ""

opt(pre, s) := concat("", [pre, s]) if s != ""

# mv renders the subject of a decision as module@version.
mv := sprintf("%s@%s", [input.module, input.version])
