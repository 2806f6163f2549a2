// Command cmd merges conformance reports into a Markdown matrix:
//
//	go run ./internal/matrix/cmd -o docs/conformance-matrix.md out/report-*.json
//
// Missing report files are skipped with a warning (their column shows "no
// report"); it fails only when no report at all could be read.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/osslcache/osslcache/internal/matrix"
)

func main() {
	out := flag.String("o", "", "write the Markdown here (default: stdout)")
	versions := flag.String("versions", strings.Join(matrix.DefaultVersions, ","),
		"columns always shown, comma-separated (empty: only those with a report)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [-o FILE] [-versions LIST] report.json...\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(*out, *versions, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "matrix:", err)
		os.Exit(1)
	}
}

func run(out, versions string, paths []string) error {
	var reports []*matrix.Report
	for _, p := range paths {
		r, err := matrix.Load(p)
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(os.Stderr, "matrix: skipping missing %s\n", p)
			continue
		}
		if err != nil {
			return err
		}
		if v, ok := matrix.VersionFromOpenSSL(r.OpenSSL); ok && v != r.Version {
			fmt.Fprintf(os.Stderr, "matrix: note: %s is in column %s but reports %q\n", p, r.Version, r.OpenSSL)
		}
		reports = append(reports, r)
	}
	if len(reports) == 0 {
		return errors.New("no report could be read")
	}
	var want []string
	for _, v := range strings.Split(versions, ",") {
		if v = strings.TrimSpace(v); v != "" {
			want = append(want, v)
		}
	}
	m, err := matrix.Build(reports, want)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := m.Render(&buf, time.Now()); err != nil {
		return err
	}
	if out == "" {
		_, err = os.Stdout.Write(buf.Bytes())
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}
