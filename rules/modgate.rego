# Package modgate turns the findings of every rule package into one decision.
#
# A rule package is any package modgate.rules.<name>. It may define, in
# conftest's vocabulary, the partial sets deny (and its synonym violation)
# and warn, whose members are strings or objects {"msg", "fix"?, "rule"?}.
# A member's rule defaults to <name>. A package may also define
# changes_at_ns, a set of instants (ns since the epoch) at which its verdict
# for this input may change; the earliest one bounds how long the decision
# may be cached.
#
# The aggregator then applies, in order: rule modes "off" (finding dropped),
# waivers (an active waiver turns a deny into a warn; an expired one that
# would have applied is reported), and modes "audit" (deny recorded in
# audit, version served) and "enforce" (deny).
package modgate

import data.modgate.lib

# decision is what the engine queries.
decision := {
	"deny": deny,
	"warn": warn,
	"audit": audit,
	"valid_until_ns": valid_until_ns,
}

# The engine generates package modgate.collected with one static reference
# per rule package that defines these sets (cheaper than enumerating
# data.modgate.rules[name] at evaluation time): deny and violation members
# become collected.deny, warn members collected.warn, each already passed
# through violation(name, d); changes_at_ns members become
# collected.changes_at.
raw_deny := {v | some v in data.modgate.collected.deny}

raw_warn := {v | some v in data.modgate.collected.warn}

# violation normalizes a finding. Anything a rule puts in deny counts, so a
# malformed finding (a number, an object without msg) still denies, with
# its value as the message.
violation(name, d) := {"rule": name, "msg": d.msg, "fix": object.get(d, "fix", ""), "ids": object.get(d, "ids", [])} if {
	# The common case (every built-in finding) in one clause; functions
	# with else chains stop at the first clause that succeeds.
	is_string(d.msg)
	not d.rule
	is_string(object.get(d, "fix", ""))
	is_array(object.get(d, "ids", []))
} else := {
	"rule": text(object.get(d, "rule", name)),
	"msg": text(object.get(d, "msg", d)),
	"fix": text(object.get(d, "fix", "")),
	"ids": ids_of(d),
} if {
	is_object(d)
} else := {"rule": name, "msg": text(d), "fix": "", "ids": []}

# ids_of returns a finding's vulnerability IDs as strings.
ids_of(d) := [text(x) | some x in d.ids] if {
	is_array(d.ids)
} else := []

text(x) := x if {
	is_string(x)
} else := sprintf("%v", [x])

# mode is the rule's mode: rule_modes[rule], else the global mode.
mode(rule) := m if {
	m := data.modgate.config.rule_modes[rule]
} else := data.modgate.config.mode

# Waivers that name this module and whose version constraint matches.
# Waivers scoped to vulnerability ids are the vulnerabilities rule's.
matching_waivers := [w |
	some w in data.modgate.config.waivers
	count(object.get(w, "ids", [])) == 0
	w.module == input.module
	lib.version_in(input.version, w.versions)
]

active(w) if input.now_ns < w.expires_ns

covers(w, _) if count(w.rules) == 0

covers(w, rule) if rule in w.rules

# live_deny are the denies of rules that are not off.
live_deny contains v if {
	some v in raw_deny
	mode(v.rule) != "off"
}

# waived maps each waived deny to the first active waiver covering it.
waived[v] := ws[0] if {
	count(matching_waivers) > 0
	some v in live_deny
	ws := [w | some w in matching_waivers; active(w); covers(w, v.rule)]
	count(ws) > 0
}

deny contains v if {
	some v in live_deny
	mode(v.rule) == "enforce"
	not waived[v]
}

audit contains v if {
	some v in live_deny
	mode(v.rule) == "audit"
	not waived[v]
}

warn contains v if {
	some v in raw_warn
	mode(v.rule) != "off"
}

warn contains {"rule": v.rule, "msg": msg, "fix": v.fix, "ids": v.ids} if {
	some v, w in waived
	msg := sprintf("%s (waived until %s by %s: %s)", [v.msg, w.expires, w.owner, w.reason])
}

warn contains {"rule": "waivers", "msg": msg, "fix": "renew or remove the waiver", "ids": []} if {
	count(matching_waivers) > 0
	mode("waivers") != "off"
	some v in live_deny
	not waived[v]
	some w in matching_waivers
	not active(w)
	covers(w, v.rule)
	msg := sprintf("waiver for %s%s (owner %s: %s) expired on %s; rule %s denies %s again", [
		w.module, lib.opt(" ", w.versions_text),
		w.owner, w.reason, w.expires, v.rule, lib.mv,
	])
}

changes_at contains t if {
	some t in data.modgate.collected.changes_at
}

changes_at contains w.expires_ns if {
	some w in matching_waivers
	active(w)
}

# valid_until_ns is the earliest instant at which a time-based rule may
# flip this decision; 0 when none.
default valid_until_ns := 0

valid_until_ns := min(changes_at) if count(changes_at) > 0
