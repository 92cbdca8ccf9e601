package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/internal/kcpleak"
	"kcplab/pcapfile"
)

// pingPong is a small, fast experiment: the client sends "ping", the server answers "pong", and both
// linger 300 ms before they close, so that no Close races a pending flush and every trial is alike.
func pingPong(classes ...Class) *Experiment {
	return &Experiment{
		ID:    "pingpong",
		Title: "ping, pong, close",
		Server: func(c net.Conn) error {
			defer c.Close()
			buf := make([]byte, 64)
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := c.Read(buf); err != nil {
				return err
			}
			_, err := c.Write([]byte("pong"))
			_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			_, _ = c.Read(buf)
			return err
		},
		Client: func(c net.Conn) error {
			defer c.Close()
			if _, err := c.Write([]byte("ping")); err != nil {
				return err
			}
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 64)
			if _, err := io.ReadFull(c, buf[:4]); err != nil {
				return err
			}
			_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			_, _ = c.Read(buf)
			return nil
		},
		Trials:     6,
		Quiet:      150 * time.Millisecond,
		Classes:    classes,
		Invariants: []Check{oneSession},
	}
}

var pingPongAnswered = Class{
	Name:   "answered",
	Ladder: Ladder{Push(C2S).WithSn(0).WithLen(4), Ack(S2C).WithSn(0).WithUna(1), Push(S2C).WithSn(0).WithLen(4), Ack(C2S).WithSn(0)},
	Checks: []Check{readPong},
}

// oneSession and readPong are the ping-pong experiment's own checks (the shared vocabulary of checks,
// package expect, builds on this package).
var (
	oneSession = Check{Name: "one session", Fn: func(tr *Trace) error {
		if tr.Accepts != 1 {
			return fmt.Errorf("%d sessions accepted", tr.Accepts)
		}
		return nil
	}}
	readPong = Check{Name: "the client read the pong", Fn: func(tr *Trace) error {
		if got, want := tr.BytesRead(Client, 0), tr.BytesWritten(Server, 1); !bytes.Equal(got, want) {
			return fmt.Errorf("read %q, server wrote %q", got, want)
		}
		return nil
	}}
)

// TestRunLeaksNothing runs trials in parallel and checks that no goroutine and no socket outlives them.
// Not parallel: it counts the process's goroutines and file descriptors.
func TestRunLeaksNothing(t *testing.T) {
	kcpleak.LeaksNothing(t)
	res, err := Run(context.Background(), pingPong(pingPongAnswered), RunOptions{Trials: 12, Parallel: 4, KeepDir: t.TempDir()})
	require.NoError(t, err)
	noFailedTrials(t, res)
	assert.Equal(t, 12, res.Counts["answered"])
}

func TestRunKeepsUnclassifiedTrial(t *testing.T) {
	t.Parallel()
	wrong := Class{Name: "impossible", Ladder: Ladder{Push(S2C)}}
	keep := t.TempDir()
	res, err := Run(context.Background(), pingPong(wrong), RunOptions{Trials: 2, KeepDir: keep})
	require.NoError(t, err)
	require.Len(t, res.Failed(), 2)
	for _, f := range res.Failed() {
		assert.Contains(t, f.Err.Error(), "fits no class")
		assert.Contains(t, f.Err.Error(), "ladder mismatch")
		require.FileExists(t, f.Pcapng)
		file, err := pcapfile.ReadFile(f.Pcapng)
		require.NoError(t, err)
		assert.Len(t, file.Datagrams, len(f.Trace.Datagrams))
	}
	assert.Zero(t, res.Counts["impossible"])
}

func TestRunWritesEveryTrial(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	res, err := Run(context.Background(), pingPong(pingPongAnswered), RunOptions{Trials: 3, OutDir: out})
	require.NoError(t, err)
	for i, tr := range res.Trials {
		require.NoError(t, tr.Err)
		assert.Equal(t, fmt.Sprintf("%s/pingpong/trial-%03d.pcapng", out, i+1), tr.Pcapng)
		assert.FileExists(t, tr.Pcapng)
	}
	path, err := res.WriteSummary(out + "/pingpong")
	require.NoError(t, err)
	assert.FileExists(t, path)
}

func TestClassifySeveralClassesIsAnError(t *testing.T) {
	t.Parallel()
	a := pingPongAnswered
	b := pingPongAnswered
	b.Name = "answered again"
	res, err := Run(context.Background(), pingPong(a, b), RunOptions{Trials: 1, KeepDir: t.TempDir()})
	require.NoError(t, err)
	require.Len(t, res.Failed(), 1)
	assert.Contains(t, res.Failed()[0].Err.Error(), "fits several classes")
}

func TestTrialTimeoutIsBounded(t *testing.T) {
	t.Parallel()
	e := pingPong(pingPongAnswered)
	e.Timeout = 500 * time.Millisecond
	e.Client = func(c net.Conn) error { // reads without a deadline: only teardown ends it
		_, err := c.Read(make([]byte, 1))
		return err
	}
	start := time.Now()
	tr, err := RunTrial(context.Background(), e, 1, TapOpener, 1)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "client role still running")
	assert.Less(t, time.Since(start), 3*time.Second)
	require.NotNil(t, tr)
	assert.True(t, errors.Is(tr.ClientErr, io.ErrClosedPipe), "client ended by teardown: %v", tr.ClientErr)
}

// TestRunDiscovers: with Discover, a trial that fits no named class is put in a class named by what
// happened, the same name for the same outcome; without it, the trial fails.
func TestRunDiscovers(t *testing.T) {
	t.Parallel()
	// A class that expects nothing ping-pong does: every trial fits no class.
	never := Class{Name: "never", Ladder: Ladder{Push(S2C)}}
	for _, disc := range []bool{false, true} {
		t.Run(fmt.Sprint("discover=", disc), func(t *testing.T) {
			t.Parallel()
			res, err := Run(context.Background(), pingPong(never), RunOptions{Trials: 4, Parallel: 4, KeepDir: t.TempDir(), Discover: disc})
			require.NoError(t, err)
			if !disc {
				assert.Len(t, res.Failed(), 4)
				assert.Empty(t, res.Discovered())
				return
			}
			assert.Empty(t, res.Failed())
			classes := res.Discovered()
			require.NotEmpty(t, classes)
			total := 0
			for _, c := range classes {
				assert.True(t, strings.HasPrefix(c.Name, DiscoveredPrefix), c.Name)
				assert.Contains(t, c.Name, "c→s PUSH0", "the request is part of every signature")
				assert.Contains(t, c.Name, "client read all")
				assert.NotEmpty(t, res.Of(c), "the trials of %q", c.Name)
				assert.Equal(t, c.Name, res.Example(c).Class.Name)
				total += res.Count(c)
			}
			assert.Equal(t, 4, total)
			assert.Zero(t, res.Count(never))
			assert.Empty(t, res.Of(never))
			sum := res.Summary()
			assert.Len(t, sum.Discovered, len(classes))
		})
	}
}

// countingSlots is a Slots of a fixed size that counts what the run asked of it.
type countingSlots struct {
	free                     chan struct{}
	acquired, started, freed atomic.Int64
	inFlight, peak           atomic.Int64
	mu                       sync.Mutex
	slotTime                 time.Duration // the integral of inFlight up to last
	last                     time.Time
}

// account adds the time since the last change, at the trials in flight then, to the integral, changes
// the trials in flight by change, and returns the integral and its time.
func (s *countingSlots) account(change int64) (time.Duration, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if !s.last.IsZero() {
		s.slotTime += time.Duration(s.inFlight.Load()) * now.Sub(s.last)
	}
	s.last = now
	s.inFlight.Add(change)
	return s.slotTime, s.last
}

func (s *countingSlots) SlotTime() (time.Duration, time.Time) { return s.account(0) }

func newCountingSlots(n int) *countingSlots {
	s := &countingSlots{free: make(chan struct{}, n)}
	for range n {
		s.free <- struct{}{}
	}
	return s
}

func (s *countingSlots) Acquire(ctx context.Context) error {
	select {
	case <-s.free:
		s.acquired.Add(1)
		s.account(1)
		n := s.inFlight.Load()
		for p := s.peak.Load(); n > p && !s.peak.CompareAndSwap(p, n); p = s.peak.Load() {
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *countingSlots) Start(ctx context.Context) error { s.started.Add(1); return ctx.Err() }

func (s *countingSlots) Release() {
	s.freed.Add(1)
	s.account(-1)
	s.free <- struct{}{}
}

// TestRunTakesSlots: a run given shared slots takes one for each trial, starts each trial through
// them, gives every one back, and has no more trials in flight than the slots allow; cancelled while
// its trials wait for slots, it ends with the cancellation and holds none. Neither leaves a goroutine
// or a socket behind. Not parallel: it counts the process's goroutines and file descriptors.
func TestRunTakesSlots(t *testing.T) {
	kcpleak.LeaksNothing(t)
	for _, tc := range []struct {
		name   string
		slots  int
		cancel bool
	}{
		{"fewer slots than the run's own bound", 2, false},
		{"cancelled while waiting for a slot", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slots := newCountingSlots(tc.slots)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			t.Cleanup(cancel)
			if tc.cancel {
				cancel()
			}
			res, err := Run(ctx, pingPong(pingPongAnswered), RunOptions{Trials: 6, Parallel: 4, KeepDir: t.TempDir(), Slots: slots})
			assert.Zero(t, slots.inFlight.Load(), "slots still held")
			assert.Equal(t, slots.acquired.Load(), slots.freed.Load())
			if tc.cancel {
				require.ErrorIs(t, err, context.Canceled)
				assert.Zero(t, slots.started.Load())
				return
			}
			require.NoError(t, err)
			assert.Empty(t, res.Failed())
			assert.EqualValues(t, 6, slots.acquired.Load())
			assert.EqualValues(t, 6, slots.started.Load())
			assert.LessOrEqual(t, slots.peak.Load(), int64(tc.slots))
			for i, tr := range res.Trials {
				// its own slot is held all the while, and no more than the slots are ever held
				assert.GreaterOrEqual(t, tr.InFlight, 1.0, "trial %d's mean in flight", tr.Trial)
				assert.LessOrEqual(t, tr.InFlight, float64(tc.slots), "trial %d's mean in flight", tr.Trial)
				assert.Equal(t, tr.InFlight, res.Summary().Trials[i].InFlight, "summary.json's in_flight")
			}
		})
	}
}
