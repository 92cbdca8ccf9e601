package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseInterleaved(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args   []string
		trials int
		json   bool
		pos    []string
	}{
		{[]string{"p003", "-trials", "2"}, 2, false, []string{"p003"}},
		{[]string{"-trials", "2", "p003"}, 2, false, []string{"p003"}},
		{[]string{"a", "-json", "b", "-trials=3", "c"}, 3, true, []string{"a", "b", "c"}},
		{[]string{"a", "--", "-json", "b"}, 0, false, []string{"a", "-json", "b"}},
		{[]string{"-", "x"}, 0, false, []string{"-", "x"}},
		{nil, 0, false, nil},
	}
	for _, tc := range tests {
		c := &Call{Flags: flag.NewFlagSet("test", flag.ContinueOnError), Args: tc.args}
		trials := Int(c.Flags, "trials", 0, 0, 10, "")
		asJSON := c.Flags.Bool("json", false, "")
		pos, err := c.Parse()
		require.NoError(t, err, "%q", tc.args)
		assert.Equal(t, tc.pos, pos, "%q", tc.args)
		assert.Equal(t, tc.trials, *trials, "%q", tc.args)
		assert.Equal(t, tc.json, *asJSON, "%q", tc.args)
	}
}

// errSentinel is a package's error that the program names bad input.
var errSentinel = errors.New("unknown thing")

// TestExitStatus: every way a command ends gives its exit status and, but for success and help, one
// line on stderr that names the command.
func TestExitStatus(t *testing.T) {
	t.Parallel()
	run := func(err error) func(context.Context, *Call) error {
		return func(_ context.Context, c *Call) error {
			c.Flags.SetOutput(io.Discard)
			if _, perr := c.Parse(); perr != nil {
				return perr
			}
			return err
		}
	}
	p := &Program{Name: "prog", BadInput: []error{errSentinel}, Commands: []Command{
		{Name: "ok", Run: run(nil)},
		{Name: "fail", Run: run(Fail("%d trials failed", 3))},
		{Name: "usage", Run: run(Usage("want ID"))},
		{Name: "sentinel", Run: run(errors.Join(errors.New("reading"), errSentinel))},
		{Name: "broken", Run: run(errors.New("disk full"))},
		{Name: "ranged", Run: func(_ context.Context, c *Call) error {
			Int(c.Flags, "n", 1, 1, 9, "")
			c.Flags.SetOutput(io.Discard)
			_, err := c.Parse()
			return err
		}},
	}}
	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"ok"}, 0, ""},
		{[]string{"ok", "-h"}, 0, ""},
		{[]string{"help"}, 0, ""},
		{[]string{"fail"}, 1, "prog fail: 3 trials failed\n"},
		{[]string{"broken"}, 1, "prog broken: disk full\n"},
		{[]string{"usage"}, 2, "prog usage: want ID\n"},
		{[]string{"sentinel"}, 2, "prog sentinel: reading\nunknown thing\n"},
		{[]string{"ok", "-bogus"}, 2, "prog ok: flag provided but not defined: -bogus\n"},
		{[]string{"ranged", "-n", "0"}, 2, "prog ranged: invalid value \"0\" for flag -n: want 1..9\n"},
		{[]string{"ranged", "-n", "x"}, 2, "prog ranged: invalid value \"x\" for flag -n: want 1..9\n"},
		{[]string{"nosuch"}, 2, "prog: unknown command \"nosuch\"\n"},
		{nil, 2, "usage: prog COMMAND"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.args), func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			assert.Equal(t, tc.code, p.Main(tc.args, &stdout, &stderr))
			if tc.stderr == "" {
				assert.Empty(t, stderr.String())
			} else {
				assert.True(t, bytes.HasPrefix(stderr.Bytes(), []byte(tc.stderr)), "stderr %q, want it to begin %q", stderr.String(), tc.stderr)
			}
		})
	}
}

func TestNoArgs(t *testing.T) {
	t.Parallel()
	c := &Call{Flags: flag.NewFlagSet("test", flag.ContinueOnError), Args: []string{"-v", "extra"}}
	c.Flags.Bool("v", false, "")
	err := c.NoArgs()
	var ee *ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 2, ee.Code)
	assert.EqualError(t, err, `takes no arguments, got ["extra"]`)
	assert.Equal(t, map[string]bool{"v": true}, c.Set())
}

func TestSplitList(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []string{"a", "b", "c"}, SplitList("a,b c,,"))
	assert.Empty(t, SplitList(" , "))
}

// TestOutDirAndOutFile: where a command may write, and what is bad input; the checks make nothing.
func TestOutDirAndOutFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	outDir := func(path string) error { return OutDir("out", path) }
	outFile := func(path string) error { return OutFile("results", path) }
	for _, tc := range []struct {
		name  string
		check func(string) error
		path  string
		in    string // the directory written in, which the check must leave as it was
		bad   string // in the error; "" for none
	}{
		{"dir: existing", outDir, t.TempDir(), "", ""},
		{"dir: new", outDir, filepath.Join(dir, "new", "deeper"), "", ""},
		{"dir: a file", outDir, file, "", "-out: " + file + " is not a directory"},
		{"dir: under a file", outDir, filepath.Join(file, "x"), "", file + " is not a directory"},
		{"file: none", outFile, "", "", ""},
		{"file: existing", outFile, file, dir, ""},
		{"file: new, in a new directory", outFile, filepath.Join(dir, "new2", "R.md"), dir, ""},
		{"file: a directory", outFile, dir, "", "-results: " + dir + " is a directory"},
		{"file: under a file", outFile, filepath.Join(file, "R.md"), "", "-results: " + file + " is not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.in == "" {
				tc.in = tc.path
			}
			before, _ := os.ReadDir(tc.in)
			err := tc.check(tc.path)
			if tc.bad != "" {
				var exit *ExitError
				require.ErrorAs(t, err, &exit)
				assert.Equal(t, 2, exit.Code)
				assert.Contains(t, err.Error(), tc.bad)
				return
			}
			require.NoError(t, err)
			after, _ := os.ReadDir(tc.in)
			assert.Equal(t, before, after, "the check leaves %s as it was", tc.in)
		})
	}
}

// TestOutDirUnwritable: a directory the user cannot write in, or make a directory in, is bad input.
func TestOutDirUnwritable(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("root writes in any directory: run as a user to check an unwritable -out")
	}
	locked := filepath.Join(t.TempDir(), "locked")
	require.NoError(t, os.Mkdir(locked, 0o555))
	t.Cleanup(func() { os.Chmod(locked, 0o755) })
	for _, dir := range []string{locked, filepath.Join(locked, "new")} {
		err := OutDir("out", dir)
		var exit *ExitError
		require.ErrorAs(t, err, &exit, dir)
		assert.Equal(t, 2, exit.Code)
		assert.Contains(t, err.Error(), "cannot write in "+locked)
		assert.NoDirExists(t, filepath.Join(locked, "new"))
	}
}
