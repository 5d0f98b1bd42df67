// Command benchtool is the Go half of modgate's load harness
// (bench/run.sh): the small jobs that are awkward in bash. Every network
// call it makes goes to the URL it is given, which run.sh always points at
// 127.0.0.1; every loop is bounded in count and time.
//
//	benchtool urls -json download.json -out DIR
//	    write the URL path lists (infomod.txt, all.txt, list.txt) for the
//	    modules of a `go mod download -json` stream
//	benchtool sumdb
//	    print a GOSUMDB value with an explicit URL for the go env's
//	    checksum database, reached through the go env's first proxy, for a
//	    modgate whose upstream is a file:// directory
//	benchtool warm -base URL -paths FILE
//	    GET every path once (bounded concurrency); fail on any non-200
//	benchtool burst -url URL -n 64
//	    start n GETs of one URL at the same instant; print the wall time
//	benchtool largeup -size 13MiB [-rate MiB/s] -info FILE
//	    serve a hermetic upstream (proxytest) holding one large module on
//	    127.0.0.1 until SIGTERM or -max, optionally throttling its zip to a
//	    WAN-like rate; write its URL, GOSUMDB and zip path to FILE (shell
//	    syntax); GET /_bench/count?path=P reports upstream hits for P
//	benchtool static -dir DIR -listen ADDR
//	    a bare net/http file server (small files from memory, others with
//	    sendfile): the ceiling for any Go server on this machine
//	benchtool freeport -n 3
//	    print n free loopback ports
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/mod/module"

	"github.com/modgate/modgate/proxy/checksum"
	"github.com/modgate/modgate/proxy/proxytest"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool urls|sumdb|warm|burst|largeup|freeport [flags]")
		os.Exit(2)
	}
	cmds := map[string]func([]string) error{
		"urls": runURLs, "sumdb": runSumDB, "warm": runWarm, "burst": runBurst,
		"largeup": runLargeUp, "freeport": runFreePort, "static": runStatic,
	}
	run, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "benchtool: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
	if err := run(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "benchtool %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// downloaded is the part of a `go mod download -json` record we use.
type downloaded struct {
	Path, Version string
	Info, GoMod   string
	Zip           string
	Error         string
}

// runURLs turns the graph's download records into URL path lists, one
// path per line, in a fixed (sorted) order so runs are comparable.
func runURLs(args []string) error {
	fs := flag.NewFlagSet("urls", flag.ExitOnError)
	in := fs.String("json", "", "`file` with `go mod download -json` output")
	out := fs.String("out", "", "output `directory`")
	fs.Parse(args)
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	var infomod, all, list []string
	dec := json.NewDecoder(f)
	for {
		var d downloaded
		if err := dec.Decode(&d); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("%s: %w", *in, err)
		}
		if d.Error != "" || d.Zip == "" {
			return fmt.Errorf("%s@%s: not fully downloaded: %s", d.Path, d.Version, d.Error)
		}
		ep, err := module.EscapePath(d.Path)
		if err != nil {
			return err
		}
		ev, err := module.EscapeVersion(d.Version)
		if err != nil {
			return err
		}
		base := "/" + ep + "/@v/" + ev
		infomod = append(infomod, base+".info", base+".mod")
		all = append(all, base+".info", base+".mod", base+".zip")
		list = append(list, "/"+ep+"/@v/list")
	}
	if len(list) == 0 {
		return fmt.Errorf("%s: no modules", *in)
	}
	for name, paths := range map[string][]string{"infomod.txt": infomod, "all.txt": all, "list.txt": list} {
		sort.Strings(paths)
		paths = compact(paths)
		if err := os.WriteFile(filepath.Join(*out, name), []byte(strings.Join(paths, "\n")+"\n"), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("%d modules\n", len(list))
	return nil
}

func compact(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// runSumDB prints "<verifier key> <first proxy>/sumdb/<name>" for the go
// env's GOSUMDB: what the go command itself would use to reach the
// database through its proxy, made explicit so a modgate with a file://
// upstream still verifies against the real database.
func runSumDB(args []string) error {
	goenv := func(name string) (string, error) {
		out, err := exec.Command("go", "env", name).Output()
		return strings.TrimSpace(string(out)), err
	}
	sumdb, err := goenv("GOSUMDB")
	if err != nil {
		return err
	}
	if strings.Contains(sumdb, " ") || sumdb == "off" {
		fmt.Println(sumdb) // already explicit
		return nil
	}
	goroot, err := goenv("GOROOT")
	if err != nil {
		return err
	}
	key := sumdb
	if !strings.Contains(key, "+") {
		if key = checksum.ToolchainKey(goroot, sumdb); key == "" {
			return fmt.Errorf("no verifier key known for GOSUMDB %q", sumdb)
		}
	}
	db, err := checksum.ParseGOSUMDB(key, nil)
	if err != nil {
		return err
	}
	proxies, err := goenv("GOPROXY")
	if err != nil {
		return err
	}
	first, _, _ := strings.Cut(proxies, ",")
	first, _, _ = strings.Cut(first, "|")
	if !strings.HasPrefix(first, "http") {
		return fmt.Errorf("GOPROXY %q has no HTTP proxy first", proxies)
	}
	fmt.Printf("%s %s/sumdb/%s\n", key, strings.TrimSuffix(first, "/"), db.Name)
	return nil
}

// runWarm GETs every path once so caches (modgate's, the page cache) are
// warm before a measurement.
func runWarm(args []string) error {
	fs := flag.NewFlagSet("warm", flag.ExitOnError)
	base := fs.String("base", "", "base `URL`")
	pathsFile := fs.String("paths", "", "`file` of URL paths")
	conc := fs.Int("c", 8, "concurrent requests")
	timeout := fs.Duration("timeout", 10*time.Minute, "overall time limit")
	fs.Parse(args)
	paths, err := readLines(*pathsFile)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc}}
	var (
		mu    sync.Mutex
		bytes int64
		errs  []string
	)
	sem := make(chan struct{}, *conc)
	var wg sync.WaitGroup
	start := time.Now()
	for _, p := range paths {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			n, status, err := get(ctx, client, *base+p)
			mu.Lock()
			defer mu.Unlock()
			bytes += n
			if err != nil || status != http.StatusOK {
				errs = append(errs, fmt.Sprintf("%s: %d %v", p, status, err))
			}
		}()
	}
	wg.Wait()
	fmt.Printf("warmed %d paths, %d bytes in %.1fs\n", len(paths), bytes, time.Since(start).Seconds())
	if len(errs) > 0 {
		sort.Strings(errs)
		return fmt.Errorf("%d failed, first: %s", len(errs), errs[0])
	}
	return nil
}

// runBurst starts n GETs of one URL together (each on its own
// connection) and prints "wall_s=… ok=… bytes=…": the time from the
// common start to the last response's last byte.
func runBurst(args []string) error {
	fs := flag.NewFlagSet("burst", flag.ExitOnError)
	url := fs.String("url", "", "`URL` to fetch")
	n := fs.Int("n", 64, "concurrent clients")
	timeout := fs.Duration("timeout", 5*time.Minute, "overall time limit")
	fs.Parse(args)
	if *n < 1 || *n > 1024 {
		return fmt.Errorf("-n %d out of range 1..1024", *n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	type result struct {
		n      int64
		status int
		err    error
	}
	results := make([]result, *n)
	ready := make(chan struct{})
	var wg sync.WaitGroup
	for i := range *n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A client per goroutine: n real connections, as n go commands.
			client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
			<-ready
			r := &results[i]
			r.n, r.status, r.err = get(ctx, client, *url)
		}()
	}
	start := time.Now()
	close(ready)
	wg.Wait()
	wall := time.Since(start)
	ok, total := 0, int64(0)
	var firstErr error
	for _, r := range results {
		if r.err == nil && r.status == http.StatusOK {
			ok++
			total += r.n
		} else if firstErr == nil {
			firstErr = fmt.Errorf("status %d: %v", r.status, r.err)
		}
	}
	fmt.Printf("wall_s=%.3f ok=%d n=%d bytes=%d\n", wall.Seconds(), ok, *n, total)
	if ok != *n {
		return fmt.Errorf("%d of %d requests failed, first: %v", *n-ok, *n, firstErr)
	}
	return nil
}

// get fetches url, discarding the body, and returns its size and status.
func get(ctx context.Context, client *http.Client, url string) (int64, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	return n, resp.StatusCode, err
}

// runLargeUp serves a proxytest upstream with one large module. It
// listens on its own loopback listener (so the port is known) and adds a
// counter endpoint, since modgate's own metrics are what is under test.
func runLargeUp(args []string) error {
	fs := flag.NewFlagSet("largeup", flag.ExitOnError)
	size := fs.String("size", "13MiB", "zip data size (suffix KiB or MiB)")
	info := fs.String("info", "", "`file` to write URL, GOSUMDB and module path to")
	maxLife := fs.Duration("max", 20*time.Minute, "exit after this long in any case")
	rate := fs.Float64("rate", 0, "serve the zip at about this many MiB/s, like a WAN link (0: loopback speed)")
	fs.Parse(args)
	n, err := parseSize(*size)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "modgate-bench-large-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	const path, version = "example.com/bench/large", "v1.0.0"
	m, err := proxytest.BuildLargeModule(dir, path, version, n)
	if err != nil {
		return err
	}
	var opts []proxytest.Option
	if *rate > 0 {
		// 64 KiB chunks at the interval that gives the rate.
		const chunk = 64 << 10
		opts = append(opts, proxytest.WithSlow(chunk, time.Duration(float64(time.Second)*chunk/(*rate*(1<<20)))))
	}
	up, err := proxytest.Start([]proxytest.Module{m}, opts...)
	if err != nil {
		return err
	}
	defer up.Close()
	zipPath := "/" + path + "/@v/" + version + ".zip"
	if *rate > 0 {
		up.SetFault(zipPath, proxytest.FaultSlow)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/_bench/count", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, up.Count(r.URL.Query().Get("path")))
	})
	mux.Handle("/", up)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String()
	fi, err := os.Stat(m.ZipFile)
	if err != nil {
		return err
	}
	// Shell syntax: run.sh sources the file. No value contains a quote.
	out := fmt.Sprintf("URL='%s'\nGOSUMDB='%s %s/sumdb/%s'\nZIP='%s'\nZIPBYTES=%d\n",
		url, up.SumDBKey, url, up.SumDBName, zipPath, fi.Size())
	if err := os.WriteFile(*info, []byte(out), 0o644); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	select {
	case <-ctx.Done():
	case <-time.After(*maxLife):
	}
	return nil
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "MiB"):
		s, mult = strings.TrimSuffix(s, "MiB"), 1<<20
	case strings.HasSuffix(s, "KiB"):
		s, mult = strings.TrimSuffix(s, "KiB"), 1<<10
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return n * mult, nil
}

// runStatic serves dir with as little per-request work as net/http
// allows, to separate the cost of Go's HTTP stack from modgate's own.
func runStatic(args []string) error {
	fs := flag.NewFlagSet("static", flag.ExitOnError)
	dir := fs.String("dir", "", "`directory` to serve")
	listen := fs.String("listen", "127.0.0.1:0", "`address` to listen on")
	maxLife := fs.Duration("max", 30*time.Minute, "exit after this long in any case")
	fs.Parse(args)
	type file struct {
		data []byte
		size []string
	}
	small := map[string]file{}
	err := filepath.WalkDir(*dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		if fi, err := d.Info(); err != nil || fi.Size() > 64<<10 {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(*dir, p)
		small["/"+filepath.ToSlash(rel)] = file{data, []string{strconv.Itoa(len(data))}}
		return nil
	})
	if err != nil {
		return err
	}
	ctype := []string{"application/octet-stream"}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f, ok := small[r.URL.Path]; ok {
			w.Header()["Content-Type"] = ctype
			w.Header()["Content-Length"] = f.size
			w.Write(f.data)
			return
		}
		if strings.Contains(r.URL.Path, "..") {
			http.NotFound(w, r)
			return
		}
		f, err := os.Open(filepath.Join(*dir, filepath.FromSlash(r.URL.Path)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		w.Header()["Content-Type"] = ctype
		http.ServeContent(w, r, "", time.Time{}, f)
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	select {
	case <-ctx.Done():
	case <-time.After(*maxLife):
	}
	return nil
}

// runFreePort prints n distinct loopback ports that were free a moment
// ago (the usual small race is acceptable for a benchmark).
func runFreePort(args []string) error {
	fs := flag.NewFlagSet("freeport", flag.ExitOnError)
	n := fs.Int("n", 1, "how many ports")
	fs.Parse(args)
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range *n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		lns = append(lns, ln)
		fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	}
	return nil
}

func readLines(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 && sc.Err() == nil {
		return nil, errors.New(name + ": empty")
	}
	return lines, sc.Err()
}
