//go:build ignore

// testsummary reads `go test -json` and reports on it, for scripts/test and
// scripts/flakehunt. Three modes:
//
//	go test -json … | go run scripts/testsummary.go -echo FILE
//	    appends the events to FILE and prints what `go test` without -json
//	    prints: package results, and the output of failed tests only.
//	    With -label L, every package is named "PKG (L)" in FILE, so that a
//	    second pass of the same tests (scripts/test runs the end-to-end
//	    tests against a cluster too) is told apart in the summary.
//	go run scripts/testsummary.go -summary [-passed N] FILE
//	    prints one line "N passed, N failed, N skipped" (tests and subtests;
//	    -passed adds N passes, e.g. fuzz targets run outside FILE), then
//	    "skipped: …" and "failed: …" lines naming them. It exits 0 even
//	    when tests failed (go test's own status says that), so that
//	    nothing follows these lines.
//	go run scripts/testsummary.go -tally FILE…
//	    for repeated runs (-count=N, several copies): prints each test that
//	    failed with its failures and runs, and the output of its first
//	    failure. Exits 1 on a failure.
//
// A package that failed without a failed test (a build failure, a crash or a
// timeout of the test binary) counts as a failure; a test that had started
// when its package failed counts as failed.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("testsummary: ")
	echo := flag.String("echo", "", "copy stdin to `FILE` and print it as go test would")
	label := flag.String("label", "", "with -echo: name packages \"PKG (`L`)\" in FILE")
	summary := flag.Bool("summary", false, "print the pass/fail/skip line of FILE")
	passed := flag.Int("passed", 0, "with -summary: `N` more passed tests")
	tally := flag.Bool("tally", false, "print the failures per test of FILE…")
	flag.Parse()
	switch {
	case *echo != "":
		if err := echoEvents(os.Stdin, *echo, *label); err != nil {
			log.Fatal(err)
		}
	case *summary && flag.NArg() == 1:
		read(flag.Args()).printSummary(*passed)
	case *tally && flag.NArg() > 0:
		r := read(flag.Args())
		r.printTally()
		if len(r.failed) > 0 {
			os.Exit(1)
		}
	default:
		log.Fatal("usage: testsummary -echo FILE | -summary [-passed N] FILE | -tally FILE…")
	}
}

// echoEvents copies the events from in to path and prints package output
// and the output of failed tests, like `go test` without -v. A label is
// added to every package's name in path.
func echoEvents(in io.Reader, path, label string) error {
	// Appended: scripts/test adds the fuzz runs' events after the tests'.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	buf := map[string]*strings.Builder{} // output of running tests, by package and test
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		isEvent := json.Unmarshal(line, &e) == nil && e.Action != ""
		if isEvent && label != "" && e.Package != "" {
			line = labelled(line, e.Package+" ("+label+")")
		}
		if _, err := f.Write(append(line, '\n')); err != nil {
			return err
		}
		if !isEvent {
			fmt.Fprintf(out, "%s\n", line) // not an event: go test's own error output
			continue
		}
		key := e.Package + " " + e.Test
		switch {
		case e.Action == "build-output":
			out.WriteString(e.Output)
		case e.Test == "" && e.Action == "output":
			if e.Output != "PASS\n" {
				out.WriteString(e.Output)
			}
		case e.Test == "" && e.Action == "fail":
			for k, b := range buf { // tests cut off by the package's failure
				if strings.HasPrefix(k, e.Package+" ") {
					out.WriteString(b.String())
					delete(buf, k)
				}
			}
		case e.Test == "":
		case e.Action == "output":
			if buf[key] == nil {
				buf[key] = &strings.Builder{}
			}
			buf[key].WriteString(e.Output)
		case e.Action == "fail":
			if b := buf[key]; b != nil {
				out.WriteString(b.String())
			}
			delete(buf, key)
		case e.Action == "pass", e.Action == "skip":
			delete(buf, key)
		}
		if e.Action != "output" {
			out.Flush()
		}
	}
	return sc.Err()
}

// labelled returns the event with its Package set to pkg, its other fields
// as they were.
func labelled(line []byte, pkg string) []byte {
	var fields map[string]json.RawMessage
	if json.Unmarshal(line, &fields) != nil {
		return line
	}
	fields["Package"], _ = json.Marshal(pkg)
	out, err := json.Marshal(fields)
	if err != nil {
		return line
	}
	return out
}

// results are the outcomes of every run of every test in some files.
type results struct {
	runs    map[string]int      // finished runs, by "pkg Test"
	failed  map[string]int      // failed runs
	skipped map[string]string   // skipped tests and why
	passed  int                 // passed runs
	first   map[string][]string // output of the first failed run
	order   []string            // failed tests, in the order first seen
}

// read reads the events in files. It exits on an unreadable file.
func read(files []string) *results {
	r := &results{runs: map[string]int{}, failed: map[string]int{}, skipped: map[string]string{}, first: map[string][]string{}}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			log.Fatal(err)
		}
		r.add(f)
		f.Close()
	}
	return r
}

func (r *results) add(in io.Reader) {
	running := map[string][]string{} // output of the current run, by "pkg Test"
	failedIn := map[string]bool{}    // packages with a failed test
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		key := e.Package + " " + e.Test
		switch {
		case e.Action == "output" && e.Test != "":
			running[key] = append(running[key], e.Output)
		case e.Action == "run":
			running[key] = nil
		case e.Test == "" && e.Action == "fail":
			cut := false
			for k, out := range running { // started, never finished
				if strings.HasPrefix(k, e.Package+" ") {
					r.fail(k, out)
					delete(running, k)
					cut = true
				}
			}
			if !cut && !failedIn[e.Package] {
				r.fail(e.Package+" ", nil)
			}
		case e.Test == "":
		case e.Action == "pass":
			r.runs[key]++
			r.passed++
			delete(running, key)
		case e.Action == "fail":
			failedIn[e.Package] = true
			r.fail(key, running[key])
			delete(running, key)
		case e.Action == "skip":
			r.runs[key]++
			r.skipped[key] = skipReason(running[key])
			delete(running, key)
		}
	}
	if err := sc.Err(); err != nil {
		log.Fatal(err)
	}
}

func (r *results) fail(key string, out []string) {
	r.runs[key]++
	if r.failed[key] == 0 {
		r.order = append(r.order, key)
		r.first[key] = out
	}
	r.failed[key]++
}

// skipReason finds the message of t.Skip in a test's output.
func skipReason(out []string) string {
	for _, line := range out {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "=== ") || strings.HasPrefix(line, "--- SKIP") {
			continue
		}
		return line
	}
	return ""
}

func (r *results) printSummary(extraPassed int) {
	nfailed := 0
	for _, n := range r.failed {
		nfailed += n
	}
	fmt.Printf("%d passed, %d failed, %d skipped\n", r.passed+extraPassed, nfailed, len(r.skipped))
	skipped := make([]string, 0, len(r.skipped))
	for k := range r.skipped {
		skipped = append(skipped, k)
	}
	slices.Sort(skipped)
	for _, k := range skipped {
		fmt.Printf("skipped: %s: %s\n", name(k), r.skipped[k])
	}
	for _, k := range r.order {
		fmt.Printf("failed: %s\n", name(k))
	}
}

func (r *results) printTally() {
	total := 0
	for _, n := range r.runs {
		total += n
	}
	for _, k := range r.order {
		fmt.Printf("\n--- %s: failed %d of %d runs; the first failure:\n", name(k), r.failed[k], r.runs[k])
		out := r.first[k]
		if len(out) > 60 {
			out = append(out[:30:30], append([]string{"\t…\n"}, out[len(out)-30:]...)...)
		}
		fmt.Print(strings.Join(out, ""))
	}
	fmt.Printf("\n%d test runs of %d tests; %d tests failed at least once\n", total, len(r.runs), len(r.order))
	for _, k := range r.order {
		fmt.Printf("FLAKY %s: %d of %d\n", name(k), r.failed[k], r.runs[k])
	}
}

// name turns "pkg Test" into "Test (pkg)".
func name(key string) string {
	i := strings.LastIndex(key, " ") // test names have no spaces; a labelled package does
	pkg, test := key[:i], key[i+1:]
	if test == "" {
		return pkg + " (the package failed: build failure, crash or timeout)"
	}
	return test + " (" + pkg + ")"
}
