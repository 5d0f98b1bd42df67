package proxytest_test

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/modgate/modgate/proxy/proxytest"
)

// Start serves the fixture modules outside a test; tests use New, which
// closes the server in t.Cleanup.
func ExampleStart() {
	mods, err := proxytest.LoadDir("../../testdata/modules")
	if err != nil {
		panic(err)
	}
	u, err := proxytest.Start(mods)
	if err != nil {
		panic(err)
	}
	defer u.Close()

	for _, p := range []string{"/example.com/hello/@v/list", "/example.com/!upper/!case/@v/v1.0.0.mod"} {
		resp, err := http.Get(u.URL + p)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s %d\n%s", p, resp.StatusCode, body)
	}
	zipHash, modHash := u.SumDBHash("example.com/hello", "v1.2.0")
	fmt.Println(strings.HasPrefix(zipHash, "h1:"), strings.HasPrefix(modHash, "h1:"))
	fmt.Println(strings.HasPrefix(u.GOSUMDB(), "sum.test.local+"))
	// Output:
	// /example.com/hello/@v/list 200
	// v1.0.0
	// v1.1.0
	// v1.2.0
	// v1.3.0-pre
	// /example.com/!upper/!case/@v/v1.0.0.mod 200
	// module example.com/Upper/Case
	//
	// go 1.21
	// true true
	// true
}

// A typical test: start the upstream, inject a fault, run the real go
// command through it (or through a modgate in front of it) and check what
// reached the upstream.
func ExampleNew() {
	var t testing.TB // the test's *testing.T

	mods, err := proxytest.LoadDir("../../testdata/modules")
	if err != nil {
		t.Fatal(err)
	}
	u := proxytest.New(t, mods)
	u.SetFault("/example.com/hello/@v/v1.2.0.zip", proxytest.FaultTamper)

	cmd := exec.Command("go", "mod", "download", "example.com/hello@v1.2.0")
	cmd.Dir = t.TempDir() // holds a go.mod in a real test
	cmd.Env = u.GoEnv(t, u.URL)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "SECURITY ERROR") {
		t.Errorf("tampered zip was not caught: %s", out)
	}
	if n := u.Count("/example.com/hello/@v/v1.2.0.zip"); n != 1 {
		t.Errorf("zip fetched %d times", n)
	}
}
