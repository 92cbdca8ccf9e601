package peer

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"kcplab/internal/kcpleak"
)

var conformCmd = flag.String("conform", "", "a peer command line (split at spaces) for TestConformCommand to check")

// fakePeerEnv makes the test binary a peer that breaks the protocol in one way (fakePeer).
const fakePeerEnv = "KCPLAB_FAKE_PEER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakePeerEnv); mode != "" {
		os.Exit(fakePeer(mode))
	}
	code := m.Run()
	builds.cleanup()
	if code == 0 {
		// Every peer, pair trial and conformance check of the tests has ended: nothing of them runs.
		if err := goleak.Find(kcpleak.Options()...); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines left after the tests:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// fakePeer is a peer process that breaks the protocol as mode says, and its exit status.
func fakePeer(mode string) int {
	switch mode {
	case "silent": // never says hello, and ignores the end of its input
		time.Sleep(time.Hour)
	case "garbage":
		fmt.Println("this is not JSON")
	case "exit":
		fmt.Fprintln(os.Stderr, "fake peer: cannot start")
		return 3
	case "proto1":
		fmt.Println(`{"op":"hello","impl":"old","impl_version":"0.9","kcp_go":"v5.7.6","proto":1}`)
	case "garbage-later", "exit-later":
		fmt.Println(`{"op":"hello","impl":"fake","impl_version":"0","proto":2}`)
		var line string
		_, _ = fmt.Scanln(&line) // the first request
		if mode == "exit-later" {
			return 4
		}
		fmt.Println(`{"op":"ready","trial":1,`)
	case "nohello":
		fmt.Println(`{"op":"ready","trial":1,"addr":"127.0.0.1:9"}`)
	}
	_, _ = io.Copy(io.Discard, os.Stdin) // ends with its input
	return 0
}

// fakePeerEnviron is the environment of a fake peer of mode: under -race, without the race runtime's
// 1 s sleep at exit, so that it ends as soon as its input does.
func fakePeerEnviron(mode string) []string {
	return append(os.Environ(), fakePeerEnv+"="+mode, "GORACE=atexit_sleep_ms=0")
}

// TestStartPeerRefuses starts peers that break the protocol before it begins, and a command that does
// not exist: each is a clear error, the process has ended, and no goroutine or file is left.
// Not parallel: it counts the process's goroutines and file descriptors.
func TestStartPeerRefuses(t *testing.T) {
	kcpleak.LeaksNothing(t)
	// The silent peer's subject is the bounds, so it gets short ones. The others' subject is what they
	// say, and a -race test binary re-executed on a busy machine can take more than 300 ms to start or to
	// exit: they get bounds that their start and exit do not reach.
	const short, long = 300 * time.Millisecond, 10 * time.Second
	for _, tc := range []struct {
		mode  string
		bound time.Duration // for the hello, and for the end after the input's end
		want  []string
	}{
		{"silent", short, []string{"no hello from the peer within 300ms", "did not end within 300ms of its input's end, killed"}},
		{"garbage", long, []string{"no hello from the peer: malformed JSON from the peer", `in "this is not JSON"`}},
		{"exit", long, []string{"no hello from the peer: its output ended (EOF); exit status 3"}},
		{"proto1", long, []string{"old 0.9 speaks peer protocol 1, and this kcplab speaks 2"}},
		{"nohello", long, []string{`the peer's first message is "ready", not its hello`}},
		{"no such command", long, []string{"peer /nonexistent/kcplab-peer: fork/exec /nonexistent/kcplab-peer: no such file or directory"}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = fakePeerEnviron(tc.mode)
			if tc.mode == "no such command" {
				cmd = exec.Command("/nonexistent/kcplab-peer")
			}
			start := time.Now()
			p, err := startPeer(cmd, tc.bound, tc.bound)
			require.Error(t, err)
			assert.Nil(t, p)
			assert.Less(t, time.Since(start), 5*time.Second, "refused within the bounds")
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.True(t, strings.HasPrefix(err.Error(), "peer "+cmd.Path), "the error names the command: %v", err)
			if cmd.Process != nil {
				assert.NotNil(t, cmd.ProcessState, "the process was waited for")
			}
		})
	}
}

// TestPeerBreaksLater: a peer that said hello and then writes a line that is not JSON, or exits, fails
// the requests waiting for it with a clear error, and Close leaves nothing behind.
// Not parallel: it counts the process's goroutines and file descriptors.
func TestPeerBreaksLater(t *testing.T) {
	kcpleak.LeaksNothing(t)
	for _, tc := range []struct {
		mode, want, closeErr string
	}{
		{"garbage-later", `the peer is gone: malformed JSON from the peer: unexpected end of JSON input, in "{\"op\":\"ready\",\"trial\":1,"`, ""},
		{"exit-later", "the peer is gone: its output ended (EOF)", "exit status 4"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = fakePeerEnviron(tc.mode)
			p, err := startPeer(cmd, 5*time.Second, time.Second)
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err = p.Call(ctx, PeerMsg{Op: "listen", Trial: 1, Exp: "p003"})
			assert.EqualError(t, err, tc.want)
			err = p.Close()
			if tc.closeErr == "" {
				assert.NoError(t, err)
			} else {
				assert.EqualError(t, err, tc.closeErr)
			}
			assert.NotNil(t, cmd.ProcessState, "the process was waited for")
		})
	}
}

// buildDir holds the programs the tests built, in one directory removed after the tests.
type buildDir struct {
	once sync.Once
	dir  string
	err  error
}

var builds buildDir

func (b *buildDir) cleanup() {
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}

// minipeer builds testdata/minipeer once and returns its path; without a Go toolchain the test is
// skipped.
func minipeer(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("building the minimal peer needs the go command: %v", err)
	}
	builds.once.Do(func() {
		builds.dir, builds.err = os.MkdirTemp("", "kcplab-minipeer-")
		if builds.err != nil {
			return
		}
		out, err := exec.Command(goBin, "build", "-o", filepath.Join(builds.dir, "minipeer"), "./testdata/minipeer").CombinedOutput()
		if err != nil {
			builds.err = fmt.Errorf("go build ./testdata/minipeer: %v\n%s", err, out)
		}
	})
	require.NoError(t, builds.err)
	return filepath.Join(builds.dir, "minipeer")
}

// TestMinimalPeerConforms runs the conformance check on the peer written from the README's section
// alone, and on two variants that break the protocol: each break is named.
func TestMinimalPeerConforms(t *testing.T) {
	t.Parallel()
	bin := minipeer(t)
	for _, tc := range []struct {
		name string
		args []string
		want []string // in the violations, all of them ("": none)
	}{
		{"as written", nil, nil},
		{"hello with protocol 1", []string{"-break=proto"}, []string{"hello: peer " + bin + " -break=proto: minipeer 0.1 (kcp-go) speaks peer protocol 1, and this kcplab speaks 2"}},
		{"received datagrams left out", []string{"-break=datagrams"}, []string{
			"done (peer as server): ",
			"datagrams sent and 0 received in its record: a peer records every datagram its socket sends and receives",
			"datagrams the kcp-go peer sent it are missing from its record of those it received",
			"done (peer as client): ",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vs := Conform(context.Background(), exec.Command(bin, tc.args...))
			var lines []string
			for _, v := range vs {
				lines = append(lines, v.String())
			}
			all := strings.Join(lines, "\n")
			if tc.want == nil {
				assert.Empty(t, lines, all)
				return
			}
			require.NotEmpty(t, lines, "a broken peer must not conform")
			for _, w := range tc.want {
				assert.Contains(t, all, w)
			}
		})
	}
}

// TestConformCommand checks the peer command given with -conform (go test ./peer -run
// TestConformCommand -conform 'CMD ARGS').
func TestConformCommand(t *testing.T) {
	if *conformCmd == "" {
		t.Skip("no peer command given (-conform 'CMD ARGS')")
	}
	args := strings.Fields(*conformCmd)
	for _, v := range Conform(context.Background(), exec.Command(args[0], args[1:]...)) {
		t.Error(v)
	}
}

// TestIKCPPeerConforms checks the C reference's peer (peers/ikcp: ikcp.c through node-kcp) against the
// protocol, as any peer is checked. It needs the peer built (peers/ikcp/build.sh, which make deps runs).
func TestIKCPPeerConforms(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: peers/ikcp/build.sh installs it (make deps)")
	}
	dir, err := filepath.Abs("../peers/ikcp")
	require.NoError(t, err)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "node-kcp")); err != nil {
		t.Skip("the ikcp peer is not built: run peers/ikcp/build.sh (make deps)")
	}
	for _, v := range Conform(context.Background(), exec.Command(node, filepath.Join(dir, "peer.js"))) {
		t.Error(v)
	}
}
