# policies/internal_test.rego
package internal_test

import data.modgate.rules.internal

test_pseudo_internal_denied if {
	count(internal.deny) == 1 with input as {"module": "git.example.com/x", "version": "v0.0.0-20250101000000-abcdefabcdef", "pseudo": true}
}
