# Package modgate turns the findings of every rule package into one decision.
#
# A rule package is any package data.modgate.rules.<name>. It may define, in
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

raw_deny contains violation(name, d) if {
	some name
	some d in data.modgate.rules[name].deny
}

raw_deny contains violation(name, d) if {
	some name
	some d in data.modgate.rules[name].violation
}

raw_warn contains violation(name, d) if {
	some name
	some d in data.modgate.rules[name].warn
}

# violation normalizes a finding. Anything a rule puts in deny counts, so a
# malformed finding (a number, an object without msg) still denies, with
# its value as the message.
violation(name, d) := {"rule": name, "msg": text(d), "fix": ""} if not is_object(d)

violation(name, d) := {
	"rule": text(object.get(d, "rule", name)),
	"msg": text(object.get(d, "msg", d)),
	"fix": text(object.get(d, "fix", "")),
} if is_object(d)

text(x) := x if {
	is_string(x)
} else := sprintf("%v", [x])

# mode is the rule's mode: rule_modes[rule], else the global mode.
mode(rule) := m if {
	m := lib.cfg.rule_modes[rule]
} else := lib.setting(["mode"], "enforce")

# Waivers that name this module and whose version constraint matches.
matching_waivers := [w |
	some w in lib.setting(["waivers"], [])
	w.module == input.module
	lib.version_in(input.version, object.get(w, "versions", []))
]

active(w) if input.now_ns < w.expires_ns

covers(w, _) if count(object.get(w, "rules", [])) == 0

covers(w, rule) if rule in w.rules

# waiver_for returns the first active waiver covering violation v.
waiver_for(v) := ws[0] if {
	ws := [w | some w in matching_waivers; active(w); covers(w, v.rule)]
	count(ws) > 0
}

live_deny contains v if {
	some v in raw_deny
	mode(v.rule) != "off"
}

deny contains v if {
	some v in live_deny
	not waiver_for(v)
	mode(v.rule) == "enforce"
}

audit contains v if {
	some v in live_deny
	not waiver_for(v)
	mode(v.rule) == "audit"
}

warn contains v if {
	some v in raw_warn
	mode(v.rule) != "off"
}

warn contains {"rule": v.rule, "msg": msg, "fix": v.fix} if {
	some v in live_deny
	w := waiver_for(v)
	msg := sprintf("%s (waived until %s by %s: %s)", [v.msg, w.expires, w.owner, w.reason])
}

warn contains {"rule": "waivers", "msg": msg, "fix": "renew or remove the waiver"} if {
	mode("waivers") != "off"
	some v in live_deny
	not waiver_for(v)
	some w in matching_waivers
	not active(w)
	covers(w, v.rule)
	msg := sprintf("waiver for %s%s (owner %s: %s) expired on %s; rule %s denies %s again", [
		w.module, lib.opt(" ", object.get(w, "versions_text", "")),
		w.owner, w.reason, w.expires, v.rule, lib.mv,
	])
}

changes_at contains t if {
	some name
	some t in data.modgate.rules[name].changes_at_ns
}

changes_at contains w.expires_ns if {
	some w in matching_waivers
	active(w)
}

# valid_until_ns is the earliest instant at which a time-based rule may
# flip this decision; 0 when none.
default valid_until_ns := 0

valid_until_ns := min(changes_at) if count(changes_at) > 0
