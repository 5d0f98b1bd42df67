package declog_test

import (
	"os"
	"strings"
	"time"

	"github.com/modgate/modgate/policy/declog"
)

// A listing record: one line for a whole @v/list answer.
func ExampleLog_Listing() {
	l, err := declog.Open(declog.Options{Writer: os.Stdout})
	if err != nil {
		panic(err)
	}
	defer l.Close()
	l.Listing(&declog.Listing{
		ID: "5eed-1", Kind: declog.KindList, Module: "example.com/m", Client: "alice",
		Time:    time.Date(2025, 1, 4, 0, 0, 0, 0, time.UTC),
		Allowed: []string{"v1.0.0", "v1.1.0"},
		Denied:  []declog.Candidate{{Version: "v1.2.0", Rules: []string{"cooldown"}}},
		Bundles: []byte(`{"modgate":{"revision":"sha256:abc"}}`), PolicyRevision: "sha256:abc", VulnDB: "2025-01-03T12:00:00Z",
	})
	// Output:
	// {"decision_id":"5eed-1","kind":"list","path":"modgate/decision","module":"example.com/m","candidates":{"allowed":["v1.0.0","v1.1.0"],"denied":[{"version":"v1.2.0","rules":["cooldown"]}],"audit":[],"warn":[]},"bundles":{"modgate":{"revision":"sha256:abc"}},"policy_revision":"sha256:abc","timestamp":"2025-01-04T00:00:00Z","requested_by":"alice","vulndb_snapshot":"2025-01-03T12:00:00Z","sample_rate":1}
}

func ExampleSummarizer() {
	log := `{"decision_id":"1","input":{"module":"example.com/m","version":"v1.2.0"},"result":{"allowed":true,"deny":[],"audit":[{"rule":"cooldown"}]},"timestamp":"2025-01-04T00:00:00Z","requested_by":"alice","sample_rate":1}
{"decision_id":"2","kind":"list","module":"example.com/m","candidates":{"allowed":["v1.2.0"],"denied":[],"audit":[{"version":"v1.2.0","rules":["cooldown"]}]},"timestamp":"2025-01-04T00:01:00Z","requested_by":"bob","sample_rate":1}
`
	s := declog.NewSummarizer(declog.Filter{})
	if err := s.Read("decisions.jsonl", strings.NewReader(log)); err != nil {
		panic(err)
	}
	declog.WriteText(os.Stdout, s.Report(20))
	// Output:
	// decision logs: decisions.jsonl
	// records: 2 (1 decision, 1 listing), 0 errors, 0 lines skipped
	// period: 2025-01-04T00:00:00Z to 2025-01-04T00:01:00Z
	// denials: 2 (deny 0, audit 2) of 1 version in 1 module by 2 clients
	//
	// MODULE         DENY  AUDIT  VERSIONS  CLIENTS  RULES     FIRST SEEN            LAST SEEN
	// example.com/m  0     2      1         2        cooldown  2025-01-04T00:00:00Z  2025-01-04T00:01:00Z
	//
	// RULE      DENY  AUDIT  MODULES  VERSIONS  CLIENTS  FIRST SEEN            LAST SEEN
	// cooldown  0     2      1        1         2        2025-01-04T00:00:00Z  2025-01-04T00:01:00Z
	//
	// CLIENT  DENY  AUDIT  MODULES  VERSIONS  RULES     FIRST SEEN            LAST SEEN
	// alice   0     1      1        1         cooldown  2025-01-04T00:00:00Z  2025-01-04T00:00:00Z
	// bob     0     1      1        1         cooldown  2025-01-04T00:01:00Z  2025-01-04T00:01:00Z
}
