package vex

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// maxDocumentSize bounds what Load reads from one file.
const maxDocumentSize = 32 << 20

// File is a document and where it came from.
type File struct {
	// Path is the file the document was read from (any name that
	// identifies it to a person).
	Path     string
	Document *Document
}

// Load reads the OpenVEX documents at paths, each a file or a directory
// searched recursively for *.json files (so *.vex.json too; directories
// whose names start with "." are skipped), validates every one with
// [CheckDocument] and indexes them. It fails as a whole if any file is
// missing, unreadable or invalid, reporting every problem at once; each
// is an [*Error] naming the file.
func Load(paths ...string) (*Index, error) {
	names, err := expand(paths)
	if err != nil {
		return nil, err
	}
	var files []File
	var errs []error
	for _, name := range names {
		d, err := readFile(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		files = append(files, File{Path: name, Document: d})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return NewIndex(files...)
}

// expand turns paths into the list of files to read, directories
// walked in lexical order, each file once.
func expand(paths []string) ([]string, error) {
	var names []string
	seen := map[string]bool{}
	addFile := func(name string) {
		if c := filepath.Clean(name); !seen[c] {
			seen[c] = true
			names = append(names, name)
		}
	}
	for _, root := range paths {
		fi, err := os.Stat(root)
		if err != nil {
			return nil, fmt.Errorf("vex: %w", err)
		}
		if !fi.IsDir() {
			addFile(root)
			continue
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			switch {
			case err != nil:
				return err
			case d.IsDir() && p != root && strings.HasPrefix(d.Name(), "."):
				return filepath.SkipDir
			case !d.IsDir() && strings.HasSuffix(d.Name(), ".json"):
				addFile(p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("vex: %w", err)
		}
	}
	return names, nil
}

func readFile(name string) (*Document, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, &Error{File: name, Err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxDocumentSize+1))
	if err != nil {
		return nil, &Error{File: name, Err: err}
	}
	if len(data) > maxDocumentSize {
		return nil, &Error{File: name, Err: fmt.Errorf("larger than %d MiB", maxDocumentSize>>20)}
	}
	return Parse(name, data)
}

// Parse decodes and validates one document; name is used in errors.
// Unknown fields are ignored. On failure every problem is returned,
// joined, each an [*Error] with File set to name.
func Parse(name string, data []byte) (*Document, error) {
	var d Document
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&d); err != nil {
		return nil, &Error{File: name, Field: jsonField(err), Err: jsonError(data, err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &Error{File: name, Err: errors.New("data after the JSON document")}
	}
	var errs []error
	for _, e := range problems(&d) {
		e.File = name
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &d, nil
}

// jsonField names the field a type error is about.
func jsonField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	return ""
}

// jsonError says where a syntax error is, as the line:column of the
// offending character.
func jsonError(data []byte, err error) error {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return err
	}
	before := data[:min(max(int(se.Offset)-1, 0), len(data))]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Errorf("line %d:%d: %w", line, col, err)
}
