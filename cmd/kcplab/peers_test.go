package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"kcplab/harness"
	"kcplab/peer"
	"kcplab/report"
)

// fakePeer writes an executable shell script under dir that first records its process id in
// dir/NAME.pid, then runs body; it returns the script's path.
func fakePeer(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name+".sh")
	script := fmt.Sprintf("#!/bin/sh\necho $$ >> %s.pid\n%s\n", filepath.Join(dir, name), body)
	require.NoError(t, os.WriteFile(path, []byte(script), 0o755))
	return path
}

// alive lists the processes of dir/*.pid that still run (a zombie does not).
func alive(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.pid"))
	require.NoError(t, err)
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, pid := range strings.Fields(string(b)) {
			stat, err := os.ReadFile("/proc/" + pid + "/stat")
			if err != nil {
				continue
			}
			if s := string(stat); !strings.Contains(s[strings.LastIndexByte(s, ')'):], ") Z ") {
				out = append(out, filepath.Base(f)+": "+pid)
			}
		}
	}
	return out
}

// openFDs lists this process's open file descriptors (nil where /proc is missing).
func openFDs() []string {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		target, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		out = append(out, e.Name()+" "+target)
	}
	slices.Sort(out)
	return out
}

// TestPairsBadPeers: every way a peer can be wrong is a clear error, exit status 2, before or
// instead of any trial, and leaves no goroutine, process or file descriptor (socket, pipe, log)
// behind. The fake peers are shell scripts that record their process ids. Not parallel: it shortens
// peer.HelloTimeout and counts goroutines.
func TestPairsBadPeers(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("needs /proc to count processes and file descriptors:", err)
	}
	old := peer.HelloTimeout
	peer.HelloTimeout = time.Second
	t.Cleanup(func() { peer.HelloTimeout = old })
	dir := t.TempDir()
	const proto = `'{"op":"hello","impl":"oldkcp","impl_version":"0.1","proto":1}'`
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown implementation", []string{"-peers", "nosuch"}, `unknown implementation "nosuch"`},
		{"unknown implementation with a version", []string{"-peers", "mykcp@1.0"}, `unknown implementation "mykcp"`},
		{"command that does not exist", []string{"-peers", "x", "-peer", "x=/nonexistent/peer --stdio"}, "-peer x: exec: \"/nonexistent/peer\": stat /nonexistent/peer: no such file or directory"},
		{"command not on PATH", []string{"-peer", "x=no-such-kcp-peer"}, `-peer x: exec: "no-such-kcp-peer": executable file not found in $PATH`},
		{"-peer without a command", []string{"-peer", "x"}, "want NAME='CMD ARGS'"},
		{"-peer of a built-in's name", []string{"-peer", "ikcp=/bin/cat"}, "-peer ikcp: the name must be a word"},
		{"-peer of a version's name", []string{"-peer", "v5.7.6=/bin/cat"}, "-peer v5.7.6: the name must be a word"},
		{"exits at once", []string{"-peers", "x", "-peer", "x=" + fakePeer(t, dir, "exits", "echo 'cannot open ikcp' >&2\nexit 3")},
			"x: the peer did not start: peer " + dir + "/exits.sh: no hello from the peer: its output ended (EOF); exit status 3 (its stderr is in "},
		{"malformed JSON", []string{"-peers", "x", "-peer", "x=" + fakePeer(t, dir, "garbage", `echo '{"op":"hello",'`+"\nexec cat >/dev/null")},
			`x: the peer did not start: peer ` + dir + `/garbage.sh: no hello from the peer: malformed JSON from the peer: unexpected end of JSON input, in "{\"op\":\"hello\","`},
		{"never says hello", []string{"-peers", "x", "-peer", "x=" + fakePeer(t, dir, "silent", "cat >/dev/null")},
			"x: the peer did not start: peer " + dir + "/silent.sh: no hello from the peer within 1s"},
		{"never says hello nor ends", []string{"-peers", "x", "-peer", "x=" + fakePeer(t, dir, "stuck", "sleep 60 &\necho $! >> "+dir+"/stuck.pid\nwait")},
			"x: the peer did not start: peer " + dir + "/stuck.sh: no hello from the peer within 1s; did not end within 5s of its input's end, killed"},
		{"another protocol version", []string{"-peers", "x", "-peer", "x=" + fakePeer(t, dir, "proto1", "echo "+proto+"\nexec cat >/dev/null")},
			"x: the peer did not start: peer " + dir + "/proto1.sh: oldkcp 0.1 speaks peer protocol 1, and this kcplab speaks 2"},
		{"-peers without -pairs", []string{"-nopairs", "-peers", "v5.7.6"}, "-peers and -peer name the peers of -pairs: add -pairs"},
		{"-peers and -versions", []string{"-peers", "v5.7.6", "-versions", "v5.7.6"}, "give one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fds := openFDs()
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			args := append([]string{"matrix", "-pairs", "-out", t.TempDir(), "p001"}, tc.args...)
			if tc.args[0] == "-nopairs" {
				args = append([]string{"matrix", "p001"}, tc.args[1:]...)
			}
			code, stdout, stderr := kcplab(t, args...)
			assert.Equal(t, 2, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			assert.Contains(t, stderr, tc.want)
			assert.Empty(t, alive(t, dir), "peer processes left running")
			assert.Equal(t, fds, openFDs(), "file descriptors left open")
		})
	}
}

// TestPairsOwnPeers runs -pairs over two peers of -peer: this test binary as a kcp-go peer, and a
// fake peer of another implementation that only says hello. p001's roles are Go code, so only the
// kcp-go peer's pair with itself runs, a line says which pairs were skipped, and the results name
// both peers by their hellos.
func TestPairsOwnPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs trials through peer processes")
	}
	t.Parallel()
	dir, out := t.TempDir(), t.TempDir()
	other := fakePeer(t, dir, "other", `echo '{"op":"hello","impl":"otherkcp","impl_version":"1.2","proto":2}'`+"\nexec cat >/dev/null")
	self, err := os.Executable()
	require.NoError(t, err)
	code, stdout, stderr := kcplab(t, "matrix", "-pairs", "-trials", "2", "-out", out, "-peers", "mine,other",
		"-peer", "mine=env "+peerEnv+"=1 "+self, "-peer", "other="+other, "p004")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "other: peer started: otherkcp 1.2 ("+other+")")
	assert.Contains(t, stdout, "p004: skipped in 3 pair(s) (mine × other, other × mine, other × other): a role of it is Go code, which only a kcp-go peer runs")
	assert.Empty(t, alive(t, dir))

	mx, err := report.ReadMatrix(filepath.Join(out, "pairs", "pairs.json"))
	require.NoError(t, err)
	require.Len(t, mx.Peers, 2)
	assert.Equal(t, report.MatrixPeer{Label: "other", Impl: "otherkcp", ImplVersion: "1.2", Command: other}, mx.Peers[1])
	assert.Equal(t, "kcp-go", mx.Peers[0].Impl)
	runs := mx.Experiments[0].Versions
	assert.Len(t, runs, 1, "only mine × mine ran: %v", runs)
	vc := runs[report.PairLabel("mine", "mine")]
	require.NotNil(t, vc)
	assert.Equal(t, 2, vc.Trials)

	b, err := os.ReadFile(vc.Summary)
	require.NoError(t, err)
	var s harness.Summary
	require.NoError(t, json.Unmarshal(b, &s))
	require.NotNil(t, s.ServerPeer)
	assert.Equal(t, "kcp-go", s.ServerPeer.Impl)
	assert.Equal(t, "server "+s.ServerPeer.KCPGo+" × client "+s.ClientPeer.KCPGo, s.KCPGo)
	md, err := os.ReadFile(filepath.Join(out, "pairs", "pairs.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "| other | otherkcp | 1.2 | `"+other+"` |")
}
