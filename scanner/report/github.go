package report

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/modgate/modgate/scanner/check"
)

// WriteAnnotations writes one GitHub Actions workflow command per finding
// (::error, ::warning or ::notice with file, line and title), which the
// runner turns into annotations on the go.mod lines of the pull request.
func WriteAnnotations(w io.Writer, r *check.Report, in Info) error {
	var b strings.Builder
	for _, f := range r.Findings {
		cmd := "notice"
		switch f.Severity {
		case check.SeverityError:
			cmd = "error"
		case check.SeverityWarning:
			cmd = "warning"
		}
		msg := f.Message
		if f.Fix != "" {
			msg += "\nFix: " + f.Fix
		}
		if len(f.Via) > 2 {
			msg += "\nVia: " + strings.Join(f.Via, " → ")
		}
		title := "modgate " + string(f.Kind)
		if f.Kind.Group() != "repro" {
			title += " " + f.Rule
		}
		fmt.Fprintf(&b, "::%s file=%s,line=%d,title=%s::%s\n", cmd, escapeProperty(f.File), max(f.Line, 1), escapeProperty(title), escapeData(msg))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// escapeData escapes a workflow command's message.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a workflow command's property value.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// WriteOutputs appends step outputs in the $GITHUB_OUTPUT file format:
// findings (total), failing (at or above --fail-on), errors, warnings,
// notes, result (pass, fail or warn) and, when sarifFile is not "",
// sarif-file.
func WriteOutputs(w io.Writer, r *check.Report, in Info, sarifFile string) error {
	c := r.Count()
	failing := len(r.Failing(in.FailOn))
	result := "pass"
	if failing > 0 {
		result = "fail"
		if in.WarnOnly {
			result = "warn"
		}
	}
	var b strings.Builder
	put := func(k, v string) {
		if strings.ContainsAny(v, "\r\n") {
			// Multi-line values use a random delimiter, as the runner
			// requires.
			var buf [8]byte
			rand.Read(buf[:])
			d := "ghadelimiter_" + hex.EncodeToString(buf[:])
			fmt.Fprintf(&b, "%s<<%s\n%s\n%s\n", k, d, v, d)
			return
		}
		fmt.Fprintf(&b, "%s=%s\n", k, v)
	}
	put("findings", fmt.Sprint(len(r.Findings)))
	put("failing", fmt.Sprint(failing))
	put("errors", fmt.Sprint(c[check.SeverityError]))
	put("warnings", fmt.Sprint(c[check.SeverityWarning]))
	put("notes", fmt.Sprint(c[check.SeverityNote]))
	put("result", result)
	if sarifFile != "" {
		put("sarif-file", sarifFile)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
