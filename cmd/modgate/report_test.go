package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/txtar"
)

// TestReportGolden runs each testdata/report/*.txtar transcript: its
// header holds "args:" (with $LOGS for the fixture log directory) and
// "exit:", its files the expected stdout and stderr. -update rewrites them.
func TestReportGolden(t *testing.T) {
	logs, err := filepath.Abs(filepath.Join("..", "..", "testdata", "declog"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("testdata", "report", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			t.Parallel()
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			header := map[string]string{}
			var comment []string
			for _, ln := range strings.Split(string(ar.Comment), "\n") {
				if k, v, ok := strings.Cut(ln, ":"); ok && !strings.HasPrefix(ln, "#") {
					header[strings.TrimSpace(k)] = strings.TrimSpace(v)
				}
				if ln != "" {
					comment = append(comment, ln)
				}
			}
			args := strings.Fields(strings.ReplaceAll(header["args"], "$LOGS", logs))
			code, stdout, stderr := runIn(nil, args...)
			got := map[string]string{
				"stdout": strings.ReplaceAll(stdout, logs, "$LOGS"),
				"stderr": strings.ReplaceAll(stderr, logs, "$LOGS"),
			}
			if *update {
				header["exit"] = strconv.Itoa(code)
				var c []string
				for _, ln := range comment {
					if !strings.HasPrefix(ln, "exit:") {
						c = append(c, ln)
					}
				}
				ar.Comment = []byte(strings.Join(append(c, "exit: "+header["exit"]), "\n") + "\n")
				ar.Files = []txtar.File{{Name: "stdout", Data: []byte(got["stdout"])}, {Name: "stderr", Data: []byte(got["stderr"])}}
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if want := header["exit"]; strconv.Itoa(code) != want {
				t.Errorf("modgate %s: exit %d, want %s\nstderr:\n%s", strings.Join(args, " "), code, want, stderr)
			}
			for _, f := range ar.Files {
				if got[f.Name] != string(f.Data) {
					t.Errorf("modgate %s: %s:\n%s\nwant:\n%s", header["args"], f.Name, got[f.Name], f.Data)
				}
			}
		})
	}
}

func TestReportParseSince(t *testing.T) {
	now := time.Date(2025, 1, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"36h", now.Add(-36 * time.Hour), false},
		{"90m", now.Add(-90 * time.Minute), false},
		{"7d", time.Date(2025, 1, 3, 12, 0, 0, 0, time.UTC), false},
		{"0d", now, false},
		{"2025-01-02", time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC), false},
		{"2025-01-02T15:04:05+02:00", time.Date(2025, 1, 2, 13, 4, 5, 0, time.UTC), false},
		{"-5h", time.Time{}, true},
		{"yesterday", time.Time{}, true},
		{"1.5d", time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := parseSince(tt.in, now)
		if (err != nil) != tt.err || !got.Equal(tt.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}
