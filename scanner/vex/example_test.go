package vex_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/modgate/modgate/scanner/vex"
)

func ExampleParsePURL() {
	p, err := vex.ParsePURL("pkg:golang/github.com/Azure/go-autorest@v14.2.0%2Bincompatible")
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Module, p.Version)
	fmt.Println(vex.ModulePURL("gopkg.in/yaml.v3", "v3.0.1"))
	// Output:
	// github.com/Azure/go-autorest v14.2.0+incompatible
	// pkg:golang/gopkg.in/yaml.v3@v3.0.1
}

func ExampleIndex_Statements() {
	w := &vex.Writer{Now: func() time.Time { return time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC) }}
	var b bytes.Buffer
	err := w.Write(&b, []vex.Fact{{Product: "example.com/app", Module: "example.com/vulnlib", Version: "v1.0.0",
		Vulnerability: "GO-2099-0101", Aliases: []string{"CVE-2099-0101"}, Reachability: vex.Imported}})
	if err != nil {
		panic(err)
	}
	d, err := vex.Parse("app.vex.json", b.Bytes())
	if err != nil {
		panic(err)
	}
	ix, err := vex.NewIndex(vex.File{Path: "app.vex.json", Document: d})
	if err != nil {
		panic(err)
	}
	for _, s := range ix.Statements("example.com/vulnlib", "v1.0.0") {
		fmt.Println(s.Vulnerability, s.Aliases, s.Status, s.Justification, s.Product, s.Timestamp.Format(time.RFC3339))
	}
	// Output:
	// GO-2099-0101 [CVE-2099-0101] not_affected vulnerable_code_not_in_execute_path pkg:golang/example.com/app 2024-01-02T03:04:05Z
}
