// Command kcplab runs kcplab's experiments and decodes KCP captures: `kcplab help` lists its
// commands (commands, below), and the README says what each is for.
//
// Flags may come before or after the positional arguments.
//
// Exit status: 0 on success, 1 when a trial fits no class or breaks an invariant, 2 on bad input.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
)

// exitError carries an exit status with its message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func usageErr(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

func failErr(format string, args ...any) error {
	return &exitError{code: 1, err: fmt.Errorf(format, args...)}
}

// command is a subcommand: run defines its flags on fs, a flag set named after the command whose
// errors go to stderr, and parses args with parse.
type command struct {
	name, args, help string
	run              func(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"list", "", "list the experiments", runList},
		{"run", "[-trials N] [-parallel P] [-out DIR] [-capture tap|live] [-shard I/N [-block B]] [ID...]", "run experiments (all by default)", runRun},
		{"results", "[-trials N] [-out DIR] [-testdata DIR] [-o FILE] [-from RESULTS.md] [ID...]", "run experiments; write a new RESULTS.md and one capture per class under -out", runResults},
		{"decode", "[-framing auto|plain|fec|encrypted] [-encrypted-port P,...] [-port N] [-json] FILE...", "print the KCP segments of pcap/pcapng files", runDecode},
		{"matrix", "[-pairs [-peers LIST] [-peer NAME=CMD]] [-versions LIST] [-trials N] [-parallel P] [-out DIR] [-results RESULTS.md] [-shard I/N [-block B]] [ID...]", "run experiments against several kcp-go releases or working trees, one process each (-pairs: server and client on every pair of peers: kcp-go releases, ikcp, your own commands)", runMatrix},
		{"merge", "-out DIR [-results RESULTS.md] PARTDIR...", "merge the parts of a split matrix or run (-shard I/N) into the matrix.json, charts and RESULTS.md section of one unsplit run", runMerge},
		{"peer", "", "serve the peer protocol on stdin and stdout (for matrix -pairs)", runPeer},
		{"hosts", "[-on loopback,veth] [-trials N] [-parallel P] [-out DIR] [-results RESULTS.md] [-report] [ID...]", "run pair experiments (p001 p003) with each peer in a network namespace of its own over veth (root), and on loopback; compare their class shares", runHosts},
		{"bisect", "-from V1 -to V2 [-trials N] [-parallel P] [-out DIR] ID CLASS", "find the first kcp-go release where a class's share changes", runBisect},
		{"claims", "[-seeds N] [-bulk-seeds N] [-hosts auto|on|off] [-parallel P] [-out DIR] [-results RESULTS.md]", "measure KCP's published claims: test.cpp's mode table, and KCP against kernel TCP on the same simulated link (namespaces over TUN; root)", runClaims},
		{"crosstalk", "[-seconds N] [-closers N] [-steady N] [-burst BYTES] [-versions LIST] [-json] [-results RESULTS.md]", "count datagrams kcp-go sends through another session's socket (many sessions in one process)", runCrossTalk},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: kcplab COMMAND [flags] [args]   (flags may also follow the args)")
	for _, c := range commands() {
		fmt.Fprintf(w, "  kcplab %-8s %s\n      %s\n", c.name, c.args, c.help)
	}
}

// Main runs kcplab with args (without the program name) and returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(newFlags(c.name, stderr), args[1:], stdout, stderr)
		if err == nil {
			return 0
		}
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "kcplab %s: %v\n", c.name, err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	fmt.Fprintf(stderr, "kcplab: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("kcplab "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses flags that may come before, between or after the positional arguments
// ("run p003 -trials 2" is "run -trials 2 p003"), and returns the positional arguments in order.
// Everything after "--" is positional. A bad flag is exit status 2.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageErr("%v", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// The flag package stops at the first positional argument, or just after a "--" it consumed.
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func main() {
	growPipe(os.Stdout)
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

// rangedInt is an int flag that takes only values from lo to hi: another is bad input, as any
// flag's bad value is ("invalid value "0" for flag -parallel: want 1..64").
type rangedInt struct {
	v      *int
	lo, hi int
}

func (r rangedInt) String() string {
	if r.v == nil {
		return ""
	}
	return strconv.Itoa(*r.v)
}

func (r rangedInt) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < r.lo || n > r.hi {
		return fmt.Errorf("want %d..%d", r.lo, r.hi)
	}
	*r.v = n
	return nil
}

// intVar defines an int flag with default def that takes values from lo to hi.
func intVar(fs *flag.FlagSet, p *int, name string, def, lo, hi int, usage string) {
	*p = def
	fs.Var(rangedInt{p, lo, hi}, name, fmt.Sprintf("%s (%d..%d)", usage, lo, hi))
}

// intFlag is intVar for a new int.
func intFlag(fs *flag.FlagSet, name string, def, lo, hi int, usage string) *int {
	p := new(int)
	intVar(fs, p, name, def, lo, hi, usage)
	return p
}
