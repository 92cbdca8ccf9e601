// Package cli is a command line's machinery, apart from what its commands do: subcommands, flags
// that may come before or after the positional arguments, int flags that check their range, and
// exit statuses (0 success, 1 a failure, 2 bad input).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Command is a subcommand: Run gets a context that an interrupt cancels, and its Call.
type Command struct {
	Name, Args, Help string
	Run              func(ctx context.Context, c *Call) error
}

// Call is one run of a command: its flag set (named after the command, errors to Stderr), its
// arguments, and its output.
type Call struct {
	Flags          *flag.FlagSet
	Args           []string
	Stdout, Stderr io.Writer
}

// ExitError is an error with the exit status it gives.
type ExitError struct {
	Code int
	Err  error
}

// Error is the error the exit status carries.
func (e *ExitError) Error() string { return e.Err.Error() }

// Unwrap gives errors.Is and errors.As the error an exit status carries.
func (e *ExitError) Unwrap() error { return e.Err }

// Usage is bad input: exit status 2.
func Usage(format string, args ...any) error {
	return &ExitError{Code: 2, Err: fmt.Errorf(format, args...)}
}

// Fail is a failure of what ran: exit status 1.
func Fail(format string, args ...any) error {
	return &ExitError{Code: 1, Err: fmt.Errorf(format, args...)}
}

// Program is a command line of subcommands.
type Program struct {
	Name     string
	Commands []Command
	// BadInput are errors that, wherever a command returns them wrapped, are bad input (exit status 2).
	BadInput []error
}

func (p *Program) usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s COMMAND [flags] [args]   (flags may also follow the args)\n", p.Name)
	for _, c := range p.Commands {
		fmt.Fprintf(w, "  %s %-8s %s\n      %s\n", p.Name, c.Name, c.Args, c.Help)
	}
}

// Main runs the command args[0] names with the rest of args and returns the exit status. An interrupt
// (SIGINT, SIGTERM) cancels the command's context.
func (p *Program) Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		p.usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		p.usage(stdout)
		return 0
	}
	for _, c := range p.Commands {
		if c.Name != args[0] {
			continue
		}
		fs := flag.NewFlagSet(p.Name+" "+c.Name, flag.ContinueOnError)
		fs.SetOutput(stderr)
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := c.Run(ctx, &Call{Flags: fs, Args: args[1:], Stdout: stdout, Stderr: stderr})
		stop()
		if err == nil || errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "%s %s: %v\n", p.Name, c.Name, err)
		return p.code(err)
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n", p.Name, args[0])
	p.usage(stderr)
	return 2
}

// code is err's exit status: an ExitError's own, 2 for bad input, else 1.
func (p *Program) code(err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	for _, bad := range p.BadInput {
		if errors.Is(err, bad) {
			return 2
		}
	}
	return 1
}

// Parse parses the call's flags, which may come before, between or after the positional arguments
// ("run p003 -trials 2" is "run -trials 2 p003"), and returns the positional arguments in order.
// Everything after "--" is positional. A bad flag is bad input.
func (c *Call) Parse() ([]string, error) {
	var pos []string
	args := c.Args
	for {
		if err := c.Flags.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, Usage("%v", err)
		}
		rest := c.Flags.Args()
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

// NoArgs parses the call's flags, and is bad input when a positional argument is given.
func (c *Call) NoArgs() error {
	pos, err := c.Parse()
	if err == nil && len(pos) > 0 {
		err = Usage("takes no arguments, got %q", pos)
	}
	return err
}

// Set reports which flags the command line set.
func (c *Call) Set() map[string]bool {
	set := map[string]bool{}
	c.Flags.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// rangedInt is an int flag that takes only values from lo to hi: another is bad input, as any flag's
// bad value is (`invalid value "0" for flag -parallel: want 1..64`).
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

// IntVar defines an int flag with default def that takes values from lo to hi.
func IntVar(fs *flag.FlagSet, p *int, name string, def, lo, hi int, usage string) {
	*p = def
	fs.Var(rangedInt{p, lo, hi}, name, fmt.Sprintf("%s (%d..%d)", usage, lo, hi))
}

// Int is IntVar for a new int.
func Int(fs *flag.FlagSet, name string, def, lo, hi int, usage string) *int {
	p := new(int)
	IntVar(fs, p, name, def, lo, hi, usage)
	return p
}

// SplitList splits a comma- or space-separated list.
func SplitList(list string) []string {
	return strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' })
}

// Repeated is a flag that may be given many times; it holds every value, in order.
type Repeated []string

// String is the values given, space-separated.
func (r *Repeated) String() string { return strings.Join(*r, " ") }

// Set adds one value (flag.Value).
func (r *Repeated) Set(s string) error { *r = append(*r, s); return nil }

// OutFile checks that path, given as flag -name, is a file the command can write: not a directory, in
// a directory it can write in or make (OutDir). Empty is no file, and fine.
func OutFile(name, path string) error {
	if path == "" {
		return nil
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return Usage("-%s: %s is a directory", name, path)
	}
	return OutDir(name, filepath.Dir(path))
}

// OutDir checks that dir, given as flag -name, is a directory a file can be written in, or can be made
// in one: a directory the command could not write to is bad input, found before anything runs. It
// makes nothing, so a command that then fails on other bad input leaves no directory behind.
func OutDir(name, dir string) error {
	have := dir // the nearest of dir and its parents that exists
	for {
		fi, err := os.Stat(have)
		if err == nil && !fi.IsDir() {
			where := dir // the path given, then the file in it when that is a parent
			if have != dir {
				where += ": " + have
			}
			return Usage("-%s: %s is not a directory", name, where)
		}
		if err == nil {
			break
		}
		parent := filepath.Dir(have)
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) || parent == have {
			return Usage("-%s: %v", name, err)
		}
		have = parent
	}
	f, err := os.CreateTemp(have, ".kcplab-write-check-*")
	if err != nil {
		return Usage("-%s: cannot write in %s: %v", name, have, err)
	}
	f.Close()
	return os.Remove(f.Name())
}
