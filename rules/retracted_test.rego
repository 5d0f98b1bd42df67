package modgate_test.retracted

import data.modgate.rules.deprecated
import data.modgate.rules.retracted
import data.modgate_test.fixtures as f

test_not_retracted_allowed if {
	count(retracted.deny) == 0 with input as f.inp({}) with data.modgate.config as f.cfg_base
}

test_retracted_denied_with_rationale if {
	ds := retracted.deny with input as f.inp({"retracted": true, "retraction_rationale": "broke the API"}) with data.modgate.config as f.cfg_base
	ds == {{
		"msg": "example.com/m@v1.2.3 is retracted by its author (go.mod of v1.3.0): broke the API",
		"fix": "pick a version that is not retracted: go list -m -versions example.com/m",
	}}
}

test_retracted_without_rationale if {
	some d in retracted.deny with input as f.inp({"retracted": true, "latest": ""}) with data.modgate.config as f.cfg_base
	d.msg == "example.com/m@v1.2.3 is retracted by its author"
}

test_deprecated_warns if {
	ws := deprecated.warn with input as f.inp({"deprecated": true, "deprecation": "use example.com/m/v2"}) with data.modgate.config as f.cfg_base
	ws == {{"msg": "module example.com/m is deprecated: use example.com/m/v2"}}
	d := data.modgate.decision with input as f.inp({"deprecated": true, "deprecation": "x"}) with data.modgate.config as f.cfg_base
	count(d.deny) == 0
	f.rules_of(d.warn) == {"deprecated"}
}

test_not_deprecated_no_warning if {
	count(deprecated.warn) == 0 with input as f.inp({}) with data.modgate.config as f.cfg_base
}
