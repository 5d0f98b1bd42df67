# policies/internal.rego
package modgate.rules.internal

import data.modgate.lib

# Internal modules must be used at tagged versions.
deny contains {"msg": msg, "fix": "tag a release"} if {
	startswith(input.module, "git.example.com/")
	input.pseudo
	msg := sprintf("%s: internal modules must be tagged", [lib.mv])
}

# Majors younger than 60 days get a warning (a rule with a time-based
# verdict says when it may change, so the decision is not cached past it).
warn contains sprintf("%s is a new major version", [lib.mv]) if {
	input.update.type == "major"
	input.now_ns < input.first_seen_ns + 60 * lib.day_ns
}

changes_at_ns contains input.first_seen_ns + 60 * lib.day_ns if {
	input.update.type == "major"
	input.now_ns < input.first_seen_ns + 60 * lib.day_ns
}
