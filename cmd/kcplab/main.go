// Command kcplab runs kcplab's experiments and decodes KCP captures.
//
//	kcplab list                                   the experiments
//	kcplab run [-trials N] [-out DIR] [ID...]     run experiments, one pcapng per trial
//	kcplab results [-trials N] [ID...]            run them all and regenerate RESULTS.md
//	kcplab decode [-framing auto] [-encrypted-port P] [-json] FILE...
//	                                              print every KCP segment of captures
//
// Exit status: 0 on success, 1 when a trial fits no class or breaks an invariant, 2 on bad input.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
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

type command struct {
	name, args, help string
	run              func(args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"list", "", "list the experiments", runList},
		{"run", "[-trials N] [-parallel P] [-out DIR] [-capture tap|live] [ID...]", "run experiments (all by default)", runRun},
		{"results", "[-trials N] [-out DIR] [-testdata DIR] [-o RESULTS.md] [ID...]", "run experiments and regenerate RESULTS.md", runResults},
		{"decode", "[-framing auto|plain|fec|encrypted] [-encrypted-port P,...] [-port N] [-json] FILE...", "print the KCP segments of pcap/pcapng files", runDecode},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: kcplab COMMAND [flags] [args]")
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
		err := c.run(args[1:], stdout, stderr)
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

// parse parses flags, mapping a bad flag to exit status 2.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageErr("%v", err)
	}
	return nil
}

func main() {
	growPipe(os.Stdout)
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}
