# Rule retracted: deny versions the module author retracted in the go.mod of
# the module's latest version (as the go command computes them).
package modgate.rules.retracted

import data.modgate.lib

source := sprintf(" (go.mod of %s)", [input.latest]) if {
	input.latest != ""
} else := ""

deny contains {"msg": msg, "fix": fix} if {
	input.retracted == true
	msg := sprintf("%s is retracted by its author%s%s", [
		lib.mv, source,
		lib.opt(": ", input.retraction_rationale),
	])
	fix := sprintf("pick a version that is not retracted: go list -m -versions %s", [input.module])
}
