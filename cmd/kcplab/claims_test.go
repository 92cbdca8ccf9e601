package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"kcplab/hosts"
)

// TestClaimsInterruptedLeavesNothing interrupts `kcplab claims` (SIGINT, as Ctrl-C) while its cases run
// between namespaces: it exits, and none of its namespaces (nor their TUN devices) is left.
func TestClaimsInterruptedLeavesNothing(t *testing.T) {
	if err := hosts.Available(); err != nil {
		t.Skip(err)
	}
	cmd := exec.Command(os.Args[0], "claims", "-seeds", "2", "-skip", "modes,bulk", "-hosts", "on", "-parallel", "4", "-out", filepath.Join(t.TempDir(), "claims"))
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-done
		}
	})
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
		done <- cmd.Wait()
	}()
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for len(namespacesOf(cmd.Process.Pid)) == 0 {
		select {
		case <-deadline:
			t.Fatal("kcplab claims made no namespace in 30 s")
		case <-tick.C:
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	select {
	case err := <-done:
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "an interrupted run is not a success")
		require.Equal(t, 1, ee.ExitCode())
	case <-time.After(30 * time.Second):
		t.Fatal("kcplab claims did not end within 30 s of SIGINT")
	}
	require.Empty(t, namespacesOf(cmd.Process.Pid), "namespaces left behind")
}
