package vulndb_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/modgate/modgate/scanner/vulndb"
)

func ExampleIndex_Affects() {
	// Load a directory of OSV files (here the test fixtures) without a
	// primary database.
	dir, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "vuln", "osv"))
	l := &vulndb.Loader{
		Config: vulndb.Config{Source: vulndb.SourceNone, Extra: []string{dir}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	snap, err := l.Load(context.Background())
	if err != nil {
		panic(err)
	}
	for _, q := range []struct{ module, version string }{
		{"example.com/multi", "v1.3.0"},
		{"example.com/multi", "v1.5.5"},
		{"golang.org/toolchain", "v0.0.1-go1.21.1.linux-amd64"},
	} {
		ms, err := snap.Index().Affects(q.module, q.version)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s@%s: %d\n", q.module, q.version, len(ms))
		for _, m := range ms {
			fmt.Printf("  %s (%s) fixed in %q\n", m.ID, m.Module, m.Fixed)
		}
	}
	// Output:
	// example.com/multi@v1.3.0: 2
	//   GO-2099-0002 (example.com/multi) fixed in "v1.4.0"
	//   GO-2099-0012 (example.com/multi) fixed in "v1.5.0"
	// example.com/multi@v1.5.5: 0
	// golang.org/toolchain@v0.0.1-go1.21.1.linux-amd64: 2
	//   GO-2099-0008 (stdlib) fixed in "v1.21.2"
	//   GO-2099-0009 (toolchain) fixed in "v1.21.4"
}
