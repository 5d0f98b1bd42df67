# Rule cooldown (minimum release age): deny versions younger than N days.
#
# Age runs from input.released_ns, the release time the facts service
# establishes (input.release_basis says how):
#   - first_seen: the version appeared after modgate's first contact with
#     the module; its age runs from when modgate first saw it (a version
#     that appears later never inherits its backdatable .info time);
#   - info: the version already existed at first contact; its age runs
#     from its .info time (or the first contact, if earlier);
#   - first_contact: it existed at a first contact long enough ago that the
#     .info time was not needed;
#   - unknown: it existed at first contact but its .info time could not be
#     obtained; cooldown.unknown_release says whether it counts as new
#     (denied until the first contact is N days old) or old (allowed).
# N is cooldown.days[update type] if set, else cooldown.default_days; the
# update type (patch, minor, major, initial) is relative to the previous
# allowed version.
#
# Exception: a version that fixes a vulnerability present in every older
# allowed version (input.fixes) is let through with a warning, so a fix is
# never held back by the cooldown.
package modgate.rules.cooldown

import data.modgate.lib

days := d if {
	d := data.modgate.config.cooldown.days[input.update.type]
} else := data.modgate.config.cooldown.default_days

unknown if input.release_basis == "unknown"

# An unknown release time treated as new counts from when modgate first saw
# the version (for a version in the listing modgate made at first contact, the
# first contact), else from now.
start_ns := input.released_ns if {
	input.released_ns > 0
} else := input.first_seen_ns if {
	unknown
	input.first_seen_ns > 0
} else := input.now_ns

end_ns := start_ns + days * lib.day_ns

cooling if {
	days > 0
	not unknown
	input.now_ns < end_ns
}

cooling if {
	days > 0
	unknown
	data.modgate.config.cooldown.unknown_release == "new"
	input.now_ns < end_ns
}

fixes := [v | some v in input.fixes; lib.vuln_counted(v)]

age := sprintf("%d days", [floor((input.now_ns - start_ns) / lib.day_ns)]) if {
	input.now_ns - start_ns >= 2 * lib.day_ns
} else := sprintf("%d hours", [floor((input.now_ns - start_ns) / lib.hour_ns)])

# since says what the age is measured from, for messages.
since := sprintf("released %s (%s ago, its .info time)", [lib.fmt_time(start_ns), age]) if {
	input.release_basis == "info"
} else := sprintf("listed before modgate first saw the module on %s (%s ago)", [lib.fmt_time(start_ns), age]) if {
	input.release_basis == "first_contact"
} else := sprintf("first seen %s (%s ago)", [lib.fmt_time(start_ns), age])

deny contains {"msg": msg, "fix": fix} if {
	cooling
	not unknown
	count(fixes) == 0
	msg := sprintf("%s is too new: %s; the minimum release age for a %s update is %d days", [
		lib.mv, since, input.update.type, days,
	])
	fix := sprintf("wait until %s or use an older version", [lib.fmt_time(end_ns)])
}

deny contains {"msg": msg, "fix": fix} if {
	cooling
	unknown
	count(fixes) == 0
	msg := sprintf("%s: its release time cannot be obtained (the upstream does not serve its .info), so it is treated as new (cooldown.unknown_release: new) and the %d-day minimum release age is not met", [lib.mv, days])
	fix := "use an older version, waive it, or set cooldown.unknown_release: old"
}

warn contains {"msg": msg} if {
	cooling
	count(fixes) > 0
	names := sort([lib.vuln_name(v) | some v in fixes])
	msg := sprintf("%s is younger than the %d-day minimum release age but allowed because it fixes %s, which affects every older allowed version", [
		lib.mv, days, concat(", ", names),
	])
}

changes_at_ns contains end_ns if {
	cooling
	count(fixes) == 0
}
