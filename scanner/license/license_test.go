package license

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/modgate/modgate/scanner/internal/goproxytest"
)

const mitText = `MIT License

Copyright (c) 2024 Example Authors

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`

const bsd3Text = `Copyright (c) 2024 Example Authors. All rights reserved.

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are
met:

   * Redistributions of source code must retain the above copyright
notice, this list of conditions and the following disclaimer.
   * Redistributions in binary form must reproduce the above
copyright notice, this list of conditions and the following disclaimer
in the documentation and/or other materials provided with the
distribution.
   * Neither the name of the copyright holder nor the names of its
contributors may be used to endorse or promote products derived from
this software without specific prior written permission.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS
"AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT
LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR
A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT
OWNER OR CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL,
SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT
LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE,
DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY
THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT
(INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
`

const notALicense = `This is the license file, but it only says that you should
ask the authors nicely before doing anything at all with this code, and
that they will probably say yes if you bring cake.
`

func zipFile(t *testing.T, mod, version string, files map[string]string) string {
	t.Helper()
	all := map[string]string{"go.mod": "module " + mod + "\n", "x.go": "package x\n"}
	for k, v := range files {
		all[k] = v
	}
	z, err := goproxytest.BuildZip(goproxytest.Module{Path: mod, Version: version, Files: all})
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(t.TempDir(), "m.zip")
	if err := os.WriteFile(name, z, 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		name     string
		files    map[string]string
		ids      []string
		unknown  bool
		minConf  float64
		licenses []string // paths, in order
	}{
		{"mit", map[string]string{"LICENSE": mitText}, []string{"MIT"}, false, 90, []string{"LICENSE"}},
		{"bsd markdown", map[string]string{"LICENSE.md": bsd3Text}, []string{"BSD-3-Clause"}, false, 90, []string{"LICENSE.md"}},
		{"dual", map[string]string{"LICENSE-MIT": mitText, "COPYING.txt": bsd3Text}, []string{"BSD-3-Clause", "MIT"}, false, 90, []string{"COPYING.txt", "LICENSE-MIT"}},
		{"unknown text", map[string]string{"LICENSE": notALicense}, nil, true, 0, []string{"LICENSE"}},
		{"one of two unknown", map[string]string{"LICENSE": mitText, "COPYING": notALicense}, []string{"MIT"}, true, 0, []string{"COPYING", "LICENSE"}},
		{"none", nil, nil, true, 0, nil},
		{"subdir and vendor", map[string]string{
			"LICENSE":                      mitText,
			"third_party/x/LICENSE":        bsd3Text,
			"vendor/example.com/y/LICENSE": bsd3Text,
			"README":                       mitText,
		}, []string{"MIT"}, false, 90, []string{"LICENSE", "third_party/x/LICENSE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := DetectFile("example.com/m", "v1.0.0", zipFile(t, "example.com/m", "v1.0.0", tc.files))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.IDs, tc.ids) || res.Unknown != tc.unknown || res.Confidence < tc.minConf {
				t.Errorf("DetectFile = IDs %v Unknown %v Confidence %.1f; want %v %v >=%.0f", res.IDs, res.Unknown, res.Confidence, tc.ids, tc.unknown, tc.minConf)
			}
			var paths []string
			for _, l := range res.Licenses {
				paths = append(paths, l.Path)
			}
			if !slices.Equal(paths, tc.licenses) {
				t.Errorf("license files = %v, want %v", paths, tc.licenses)
			}
			if res.Module != "example.com/m" || res.Version != "v1.0.0" {
				t.Errorf("Result names %s@%s", res.Module, res.Version)
			}
		})
	}
}

func TestIsLicenseFile(t *testing.T) {
	for name, want := range map[string]bool{
		"LICENSE": true, "license.txt": true, "Licence.md": true, "COPYING": true, "LICENSE-APACHE": true,
		"MIT-LICENSE.txt": true, "UNLICENSE": true, "README.md": false, "LICENSE.go": false, "licenses": false,
	} {
		if got := IsLicenseFile(name); got != want {
			t.Errorf("IsLicenseFile(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestDetectBadZip(t *testing.T) {
	_, err := Detect("example.com/m", "v1.0.0", bytes.NewReader([]byte("not a zip")), 9)
	var e *Error
	if !errors.As(err, &e) || e.Module != "example.com/m" {
		t.Errorf("Detect(garbage) error = %v, want *Error naming the module", err)
	}
	if _, err := DetectFile("example.com/m", "v1.0.0", filepath.Join(t.TempDir(), "missing.zip")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("DetectFile(missing) = %v, want ErrNotExist", err)
	}
}

func TestCache(t *testing.T) {
	c := &Cache{MaxEntries: 2}
	var calls atomic.Int32
	detect := func(v string) func() (*Result, error) {
		return func() (*Result, error) {
			calls.Add(1)
			return &Result{Module: "m", Version: v}, nil
		}
	}
	// Concurrent requests for one version run one detection.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res, err := c.Do("m", "v1", detect("v1")); err != nil || res.Version != "v1" {
				t.Errorf("Do = %v, %v", res, err)
			}
		}()
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("detect ran %d times, want 1", n)
	}
	c.Do("m", "v2", detect("v2"))
	c.Get("m", "v1") // v1 most recent, v2 least
	c.Do("m", "v3", detect("v3"))
	if _, ok := c.Get("m", "v2"); ok {
		t.Errorf("least recently used entry was not evicted")
	}
	if _, ok := c.Get("m", "v1"); !ok || c.Len() != 2 {
		t.Errorf("cache lost v1 or holds %d entries", c.Len())
	}
	// Errors are not cached.
	boom := errors.New("boom")
	if _, err := c.Do("m", "v9", func() (*Result, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("Do error = %v", err)
	}
	if _, ok := c.Get("m", "v9"); ok {
		t.Errorf("error result was cached")
	}
	// Through a real zip.
	name := zipFile(t, "example.com/m", "v1.0.0", map[string]string{"LICENSE": mitText})
	res, err := c.DetectFile("example.com/m", "v1.0.0", name)
	if err != nil || fmt.Sprint(res.IDs) != "[MIT]" {
		t.Errorf("DetectFile = %v, %v", res, err)
	}
	if again, _ := c.DetectFile("example.com/m", "v1.0.0", "/nonexistent"); again != res {
		t.Errorf("second DetectFile did not come from the cache")
	}
}
