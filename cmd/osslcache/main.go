// Command osslcache runs the osslcache tools against the linked libssl:
// a resumption demo, the conformance suite, benchmarks and a TLS proxy.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

type command struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) int
}

// commands are the subcommands, in the order usage lists them; each is
// implemented in a file of its own (echo beside load).
var commands = []command{
	{"demo", "print the linked OpenSSL version and resume a session in memory", runDemo},
	{"conform", "check every claim of SSL_CTX_set_session_cache_mode(3) against the linked libssl", runConform},
	{"bench", "compare resumed handshakes through the internal cache and Go stores", runBench},
	{"redis-bench", "resumed handshakes/s and lookup latency: internal cache, in-process store, Redis", runRedisBench},
	{"soak", "run a long mixed handshake load and check memory stays flat", runSoak},
	{"serve", "TLS-terminating TCP proxy whose session cache is shared (memory or Redis)", runServe},
	{"load", "bounded TLS handshake load on a loopback server (e.g. serve): handshakes/s, share resumed", runLoad},
	{"echo", "plaintext TCP echo server, an upstream for serve in load runs", runEcho},
}

// newFlags returns the flag set of command name, printing to stderr; a
// usage text, if not empty, comes before the flags' defaults.
func newFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if usage != "" {
		fs.Usage = func() {
			fmt.Fprint(stderr, usage)
			fs.PrintDefaults()
		}
	}
	return fs
}

// usageError returns the function a command reports a bad flag value
// with: the message, then the usage; it returns exit code 2.
func usageError(fs *flag.FlagSet) func(format string, a ...any) int {
	return func(format string, a ...any) int {
		fmt.Fprintf(fs.Output(), "osslcache %s: %s\n\n", fs.Name(), fmt.Sprintf(format, a...))
		fs.Usage()
		return 2
	}
}

// parseFlags parses a command's flags; commands take no arguments besides.
// ok is false when the command must exit with code: 0 after -h, 2 after a
// bad flag or an argument (with the usage).
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0, false
	case err != nil:
		return 2, false
	case fs.NArg() > 0:
		return usageError(fs)("unexpected arguments %q", fs.Args()), false
	}
	return 0, true
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: osslcache <command> [flags]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'osslcache <command> -h' for a command's flags.")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "osslcache: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}
