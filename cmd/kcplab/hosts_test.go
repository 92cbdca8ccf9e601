package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/hostrun"
)

// mainEnv makes the test binary kcplab itself: Main with its arguments (TestMain). The peers such a
// kcplab starts (its own executable's `peer`) inherit it, and so are `kcplab peer`.
const mainEnv = "KCPLAB_TEST_AS_MAIN"

// markEnv marks the processes of one test's run, to find any left after it.
const markEnv = "KCPLAB_TEST_RUN_MARK"

// marked lists the live processes whose environment holds mark (a zombie's environment reads empty).
func marked(mark string) []int {
	envs, _ := filepath.Glob("/proc/[0-9]*/environ")
	var out []int
	for _, f := range envs {
		b, err := os.ReadFile(f)
		if err != nil || !bytes.Contains(b, []byte(markEnv+"="+mark+"\x00")) {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		if err == nil && pid != os.Getpid() {
			out = append(out, pid)
		}
	}
	return out
}

// namespacesOf lists the namespaces process pid made (kcplab-PID-...).
func namespacesOf(pid int) []string {
	m, _ := filepath.Glob(fmt.Sprintf("/run/netns/kcplab-%d-*", pid))
	return m
}

// TestHostsInterruptLeavesNothing starts `kcplab hosts -on veth` as a child process, interrupts it
// (SIGINT) once its two peers run in their namespaces, and checks that it ends by itself and leaves
// neither a namespace nor a peer process: SIGINT to the coordinator alone, and to its whole process
// group, as Ctrl-C in a terminal sends it. Not parallel: it watches processes.
func TestHostsInterruptLeavesNothing(t *testing.T) {
	if err := hostrun.Available(hostrun.Veth); err != nil {
		t.Skip(err)
	}
	for _, group := range []bool{false, true} {
		t.Run(map[bool]string{false: "coordinator", true: "process group"}[group], func(t *testing.T) {
			interruptHosts(t, group)
		})
	}
}

// interruptHosts runs and interrupts one `kcplab hosts` (its process group when group).
func interruptHosts(t *testing.T, group bool) {
	t.Helper()
	mark := strconv.FormatInt(time.Now().UnixNano(), 36)
	cmd := exec.Command(os.Args[0], "hosts", "-on", "veth", "-trials", "500", "-out", t.TempDir(), "p003")
	cmd.Env = append(os.Environ(), mainEnv+"=1", markEnv+"="+mark, "GORACE=atexit_sleep_ms=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})

	// Running: the coordinator and its two peers, and the two namespaces (within 30 s).
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for len(marked(mark)) < 3 || len(namespacesOf(cmd.Process.Pid)) < 2 {
		select {
		case err := <-exited:
			t.Fatalf("kcplab hosts ended before it was interrupted: %v\n%s", err, out.String())
		case <-deadline:
			t.Fatalf("kcplab hosts not running within 30 s: processes %v, namespaces %v\n%s", marked(mark), namespacesOf(cmd.Process.Pid), out.String())
		case <-tick.C:
		}
	}
	target := cmd.Process.Pid
	if group {
		target = -target
	}
	require.NoError(t, syscall.Kill(target, syscall.SIGINT))
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("kcplab hosts still running 30 s after SIGINT\n%s", out.String())
	}
	assert.True(t, cmd.ProcessState.Exited(), "ended by itself, not by a signal: %v", cmd.ProcessState)
	assert.Empty(t, namespacesOf(cmd.Process.Pid), "namespaces left")
	// The peers end as their input does, or at SIGINT; Close gives them 5 s before killing them.
	assert.Empty(t, marked(mark), "processes left\n%s", out.String())
}

// TestHostsBadInput: bad flags and unknown experiments are exit status 2, before anything runs.
func TestHostsBadInput(t *testing.T) {
	t.Parallel()
	garbled := t.TempDir()
	summary := filepath.Join(hostrun.RunDir(garbled, hostrun.Loopback, 1), "p001", "summary.json")
	require.NoError(t, os.MkdirAll(filepath.Dir(summary), 0o755))
	require.NoError(t, os.WriteFile(summary, []byte("{garbage"), 0o644))
	oldLayout := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(oldLayout, "loopback", "p001"), 0o755))
	for _, tc := range []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"unknown placement", []string{"hosts", "-on", "moon"}, `unknown placement "moon"`},
		{"no placement", []string{"hosts", "-on", ","}, "no placement"},
		{"bad trials", []string{"hosts", "-trials", "0"}, "-trials: want 1..100000"},
		{"bad parallel", []string{"hosts", "-parallel", "99"}, "-parallel: want 0..64"},
		{"bad runs", []string{"hosts", "-runs", "0"}, "-runs: want 1..100"},
		{"unknown experiment", []string{"hosts", "p999"}, `unknown experiment "p999"`},
		{"-report of no run", []string{"hosts", "-report", "-on", "loopback", "-out", t.TempDir(), "p001"}, "-report: open "},
		{"-report of summaries without runs (the layout before run-N)", []string{"hosts", "-report", "-on", "loopback", "-out", oldLayout, "p001"}, "no run (run-1, run-2, ...)"},
		{"-report of a garbled summary", []string{"hosts", "-report", "-on", "loopback", "-out", garbled, "p001"}, "summary.json: invalid character"},
		{"-out a file", []string{"hosts", "-on", "loopback", "-out", summary, "p001"}, "is not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, errs := kcplab(t, tc.args...)
			assert.Equal(t, 2, code)
			assert.Contains(t, errs, tc.want)
		})
	}
}
