// Command app is the fixture scanned by the govulncheck tests: it calls
// a vulnerable symbol (GO-2099-0001), imports a vulnerable package
// without calling the vulnerable symbol (GO-2099-0003), and requires a
// vulnerable module without importing the vulnerable package
// (GO-2099-0002).
package main

import (
	"fmt"

	"example.com/allbad"
	"example.com/multi/okpkg"
	"example.com/vulnmod/pkg"
)

func main() {
	fmt.Println(pkg.Vulnerable(), allbad.Fine(), okpkg.OK())
}
