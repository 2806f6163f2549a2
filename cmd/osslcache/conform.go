package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/osslcache/osslcache/conformance"
	"github.com/osslcache/osslcache/ossl"
)

// conformOptions are the flags of "osslcache conform".
type conformOptions struct {
	jsonFile, mdFile, expectFile, writeExpect string
	parallel                                  int
	quiet                                     bool
}

func conformFlags(stderr io.Writer) (*flag.FlagSet, *conformOptions, *string) {
	fs := newFlags("conform", "", stderr)
	o := &conformOptions{}
	var run string
	fs.StringVar(&o.jsonFile, "json", "", "also write the report as JSON to `FILE`")
	fs.StringVar(&o.mdFile, "md", "", "also write the report as Markdown to `FILE`")
	fs.StringVar(&run, "run", "", "check only the claims whose ID matches `REGEXP`")
	fs.StringVar(&o.expectFile, "expect", "", "compare with the expectations file `FILE` instead of "+conformance.ExpectationsPath)
	fs.StringVar(&o.writeExpect, "write-expect", "", "write the expectations file to `FILE` with this run's statuses recorded for the linked release line (new reasons marked TODO)")
	fs.IntVar(&o.parallel, "parallel", 0, "checks run at once (default GOMAXPROCS)")
	fs.BoolVar(&o.quiet, "q", false, "no progress line")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: osslcache conform [flags]

Runs the conformance suite against the linked libssl (%s): every claim of
SSL_CTX_set_session_cache_mode(3), under every protocol variant where it
applies, checked with real in-memory handshakes. Prints a table of claim,
variant, status (holds, deviates, n/a) and what was observed, and compares
the statuses with the expectations of the linked release line.

Exit status: 0 when every row matches the expectations, 1 otherwise (or
when the release line has none), 2 on bad flags.

flags:
`, ossl.OpenSSLVersion())
		fs.PrintDefaults()
	}
	return fs, o, &run
}

func runConform(args []string, stdout, stderr io.Writer) int {
	fs, o, run := conformFlags(stderr)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	var match func(string) bool
	if *run != "" {
		re, err := regexp.Compile(*run)
		if err != nil {
			return usageError(fs)("-run: %v", err)
		}
		match = re.MatchString
		if !conformAnyClaim(match) {
			fmt.Fprintf(stderr, "osslcache conform: -run %q matches no claim\n", *run)
			return 2
		}
	}
	return conformRun(o, match, stdout, stderr)
}

func conformAnyClaim(match func(string) bool) bool {
	for _, c := range conformance.Claims() {
		if match(c.ID) {
			return true
		}
	}
	return false
}

func conformRun(o *conformOptions, match func(string) bool, stdout, stderr io.Writer) int {
	prog := newConformProgress(stderr, o.quiet)
	rep, err := conformance.Run(conformance.Options{Match: match, Parallel: o.parallel, Progress: prog.update})
	prog.finish()
	if err != nil {
		fmt.Fprintln(stderr, "osslcache conform:", err)
		return 1
	}
	if err := rep.WriteTable(stdout); err != nil {
		fmt.Fprintln(stderr, "osslcache conform:", err)
		return 1
	}
	fmt.Fprintf(stdout, "\n%s; %s, %s\n", rep.Summary(), rep.OpenSSL, rep.Go)

	line := ossl.ReleaseLine()
	exp, expErr := conformLoadExpectations(o.expectFile)
	cmp := conformCompare(rep, exp, expErr, line, match)
	failed := false
	for _, w := range []struct {
		file  string
		write func(io.Writer) error
	}{
		{o.jsonFile, rep.WriteJSON},
		{o.mdFile, func(w io.Writer) error { return rep.WriteMarkdown(w, cmp) }},
		{o.writeExpect, func(w io.Writer) error {
			if expErr != nil {
				return expErr
			}
			exp.Record(rep, line)
			return exp.WriteJSON(w)
		}},
	} {
		if w.file == "" {
			continue
		}
		if err := conformWriteFile(w.file, w.write); err != nil {
			fmt.Fprintln(stderr, "osslcache conform:", err)
			failed = true
		}
	}

	switch {
	case cmp.Err != "":
		fmt.Fprintf(stderr, "osslcache conform: %s\n", cmp.Err)
		return 1
	case len(cmp.Mismatches) > 0:
		fmt.Fprintf(stderr, "osslcache conform: %s not match %s:\n", conformance.RowsDo(len(cmp.Mismatches)), cmp.Source)
		for _, m := range cmp.Mismatches {
			fmt.Fprintf(stderr, "  %s\n", m)
		}
		return 1
	case failed:
		return 1
	}
	fmt.Fprintf(stderr, "osslcache conform: every row matches %s\n", cmp.Source)
	return 0
}

// conformLoadExpectations reads the expectations file: file, or the
// embedded one when file is empty.
func conformLoadExpectations(file string) (*conformance.ExpectationsFile, error) {
	if file == "" {
		return conformance.LoadExpectationsFile()
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return conformance.ParseExpectationsFile(f, file)
}

// conformCompare compares the report with the expectations of the linked
// release line for the claims that ran; loadErr is why exp could not be
// read.
func conformCompare(rep conformance.Report, exp *conformance.ExpectationsFile, loadErr error, line string, match func(string) bool) *conformance.Comparison {
	var e *conformance.Expectations
	err := loadErr
	if err == nil {
		e, err = exp.For(line)
	}
	if err != nil {
		return &conformance.Comparison{Err: fmt.Sprintf("cannot compare with expectations (linked release line %s): %v", line, err)}
	}
	return &conformance.Comparison{Source: e.Source, Mismatches: conformance.Compare(rep, e.Select(match))}
}

// conformWriteFile writes a whole file, creating its directory, or
// nothing when write fails.
func conformWriteFile(name string, write func(io.Writer) error) error {
	var b bytes.Buffer
	if err := write(&b); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	return os.WriteFile(name, b.Bytes(), 0o644)
}

// conformProgress is the live line on stderr: rewritten in place on a
// terminal, a plain line at most every interval (and the last one)
// otherwise.
type conformProgress struct {
	w        io.Writer
	tty      bool
	off      bool
	interval time.Duration
	last     time.Time
	shown    bool
}

// ttyWidth bounds the live line, so that rewriting it in place works on an
// 80-column terminal.
const ttyWidth = 79

func newConformProgress(w io.Writer, quiet bool) *conformProgress {
	return &conformProgress{w: w, tty: conformIsTerminal(w), off: quiet, interval: 2 * time.Second, last: time.Now()}
}

func conformIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *conformProgress) update(pr conformance.Progress) {
	if p.off {
		return
	}
	line := fmt.Sprintf("conform: %d/%d rows (%d%%), %.1fs, last %s/%s: %s",
		pr.Done, pr.Total, 100*pr.Done/pr.Total, pr.Elapsed.Seconds(), pr.Row.Claim, pr.Row.Variant, pr.Row.Status)
	if p.tty {
		if len(line) > ttyWidth {
			line = line[:ttyWidth-3] + "..." // one terminal line, never wrapped
		}
		fmt.Fprintf(p.w, "\r\x1b[K%s", line)
		p.shown = true
		return
	}
	if now := time.Now(); now.Sub(p.last) >= p.interval || pr.Done == pr.Total {
		fmt.Fprintln(p.w, line)
		p.last = now
	}
}

func (p *conformProgress) finish() {
	if p.tty && p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
