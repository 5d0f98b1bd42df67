package modgate_test.acme

import data.modgate.rules.acme

test_internal_pseudo_denied if {
	count(acme.deny) == 1 with input as {"module": "acme.example/x", "pseudo": true}
}

test_external_pseudo_allowed if {
	count(acme.deny) == 0 with input as {"module": "example.com/x", "pseudo": true}
}
