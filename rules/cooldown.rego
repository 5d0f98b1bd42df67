# Rule cooldown (minimum release age): deny versions younger than N days.
#
# Age runs from input.first_seen_ns, the moment modgate first saw the version
# in the upstream's list (the proxy never lets a version that appears later
# inherit its backdatable .info time). When it is unknown the version counts
# as first seen now. N is cooldown.days[update type] if set, else
# cooldown.default_days; the update type (patch, minor, major, initial) is
# relative to the previous allowed version.
#
# Exception: a version that fixes a vulnerability present in every older
# allowed version (input.fixes) is let through with a warning, so a fix is
# never held back by the cooldown.
package modgate.rules.cooldown

import data.modgate.lib

days := d if {
	d := data.modgate.config.cooldown.days[input.update.type]
} else := data.modgate.config.cooldown.default_days

start_ns := input.first_seen_ns if {
	input.first_seen_ns > 0
} else := input.now_ns

end_ns := start_ns + days * lib.day_ns

cooling if {
	days > 0
	input.now_ns < end_ns
}

fixes := [v | some v in input.fixes; lib.vuln_counted(v)]

age := sprintf("%d days", [floor((input.now_ns - start_ns) / lib.day_ns)]) if {
	input.now_ns - start_ns >= 2 * lib.day_ns
} else := sprintf("%d hours", [floor((input.now_ns - start_ns) / lib.hour_ns)])

deny contains {"msg": msg, "fix": fix} if {
	cooling
	count(fixes) == 0
	msg := sprintf("%s is too new: first seen %s (%s ago); the minimum release age for a %s update is %d days", [
		lib.mv, lib.fmt_time(start_ns), age, input.update.type, days,
	])
	fix := sprintf("wait until %s or use an older version", [lib.fmt_time(end_ns)])
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
