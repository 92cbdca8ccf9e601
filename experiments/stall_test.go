//go:build linux

package experiments

import (
	"bytes"
	"kcplab/capture"
	"kcplab/harness"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStalledMachine runs p002 and p003 in a child process that it freezes with SIGSTOP for 30-80 ms
// at random moments, as an overloaded machine does (delaying a p003 ACK due at 100 ms by tens of
// milliseconds). Every trial must still fit its class and keep its invariants: a stall delays
// segments but does not change what kcp-go did, and a class is decided by what happened. The stalls
// stay shorter than kcp-go's 100 ms update interval: a longer one can hold a woken Read until the next
// update tick has run, so that the tick flushes the client's ACK before its Read takes the echo, and
// then kcp-go really did something else, which a class rightly tells apart. The stimulus delays a
// tenth of the timed steps by design, so the child reports its timing distributions instead of
// judging them. Replay a failure with the seed it logs.
func TestStalledMachine(t *testing.T) {
	t.Parallel() // a child process: it runs beside the other parallel tests, once the leak tests are done
	if testing.Short() {
		t.Skip("-short: skips a 10 s run")
	}
	if kind, err := harness.ParseCaptureKind(*captureFlag); err == nil && kind == harness.CaptureLive {
		if err := capture.LiveAvailable(); err != nil {
			t.Skipf("live capture unavailable: %v", err)
		}
	}
	out, stalls, err := freezeChild(t, "-test.run=^TestExperiments$/^(p002|p003)$", "-test.v",
		"-kcplab.trials=40", "-kcplab.parallel=10", "-kcplab.timing=report", "-kcplab.capture="+*captureFlag)
	t.Logf("froze the child %d times for 30-80 ms", stalls)
	require.NoError(t, err, "child failed under stalls:\n%s", out)
	assert.Contains(t, out, "--- PASS: TestExperiments/p003")
	assert.Contains(t, out, "--- PASS: TestExperiments/p002")
	// The stalls must have been seen, or this test proves nothing.
	assert.Contains(t, out, "machine load: the process stalled", "no trial saw a stall:\n%s", out)
	assert.NotContains(t, out, "--- SKIP", "the child skipped:\n%s", out)
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "machine load") || strings.Contains(line, "class ") || strings.Contains(line, "timing ") {
			t.Log(strings.TrimSpace(line))
		}
	}
}

// TestStalledMachineSeesAUniformShift runs TestTimingVerdictSeesKCPGoChange in a child process that it
// freezes with SIGSTOP for 30-80 ms at random moments. A stall delays the values of the trials whose
// window it falls in; a changed update interval moves every value. The child passes only if kcp-go's
// 100 ms is judged and holds, and the 25 and 50 ms shifts are judged and fail, through the stalls.
func TestStalledMachineSeesAUniformShift(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: skips a 3 s run")
	}
	out, stalls, err := freezeChild(t, "-test.run=^TestTimingVerdictSeesKCPGoChange$", "-test.v")
	t.Logf("froze the child %d times for 30-80 ms", stalls)
	require.NoError(t, err, "child failed under stalls:\n%s", out)
	require.Positive(t, stalls, "the child ran without a freeze: this run proves nothing")
	for _, row := range []string{"kcp-go's_default_100_ms", "interval_125_ms", "interval_150_ms"} {
		assert.Contains(t, out, "--- PASS: TestTimingVerdictSeesKCPGoChange/"+row, "%s", out)
	}
	assert.NotContains(t, out, "--- SKIP", "the child skipped:\n%s", out)
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "timing_test.go") {
			t.Log(strings.TrimSpace(line))
		}
	}
}

// freezeChild runs this test binary with args as a child process and, until it exits, freezes it with
// SIGSTOP for 30-80 ms every 0.3-1.4 s, as an overloaded machine does. It returns the child's output,
// how many times it froze it, and how the child exited. Replay a run with the seed it logs
// (KCPLAB_STALL_SEED).
func freezeChild(t *testing.T, args ...string) (string, int, error) {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("KCPLAB_STALL_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "KCPLAB_STALL_SEED")
	}
	t.Logf("stall seed %d (replay: KCPLAB_STALL_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	var out bytes.Buffer
	child := exec.Command(os.Args[0], args...)
	child.Stdout, child.Stderr = &out, &out
	child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, child.Start())
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()

	const bound = 3 * time.Minute
	deadline := time.NewTimer(bound)
	defer deadline.Stop()
	var stalls int
	var err error
	for running := true; running; {
		pause := time.NewTimer(time.Duration(300+rng.IntN(1100)) * time.Millisecond)
		select {
		case err = <-exited:
			running = false
		case <-deadline.C:
			_ = child.Process.Kill()
			err = <-exited
			t.Fatalf("child still running after %v:\n%s", bound, out.String())
		case <-pause.C:
			stall := time.Duration(30+rng.IntN(51)) * time.Millisecond
			if child.Process.Signal(syscall.SIGSTOP) == nil {
				stalls++
				time.Sleep(stall) // the stimulus: the child stays frozen this long
				_ = child.Process.Signal(syscall.SIGCONT)
			}
		}
		pause.Stop()
	}
	return out.String(), stalls, err
}
