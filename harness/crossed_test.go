package harness

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/capture"
	"kcplab/internal/kcpgo"
	"kcplab/kcpwire"
)

// TestCrossedTrialRunsAgain runs real ping-pong trials whose first attempts (or every attempt) get a
// segment carrying another trial's conv, as kcp-go's shared post-process workers can send: a crossed
// attempt is kept and run again, and a trial crossed maxCrossedRuns times fails with the crossing.
func TestCrossedTrialRunsAgain(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		crossedRuns int // attempts of each trial that get the other trial's segment
		wantFailed  bool
	}{
		{"clean", 0, false},
		{"first attempt crossed", 1, false},
		{"every attempt crossed", maxCrossedRuns, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			foreign := newConv(t, &kcpgo.Owner{Exp: "other", Trial: 9})
			e := pingPong(pingPongAnswered)
			run, attempts := attemptsOf(t, e, func(tr *Trace, attempt int) {
				if attempt <= tc.crossedRuns {
					tr.Segments = append(tr.Segments, Seg{Segment: kcpwire.Segment{Conv: foreign, Cmd: kcpwire.CmdAck},
						Datagram: len(tr.Datagrams) - 1, Dir: DirUnknown})
				}
			})
			const trials = 3
			res := &Result{Experiment: e, Capture: CaptureTap, Parallel: trials, Trials: make([]TrialResult, trials), Counts: map[string]int{}}
			out := t.TempDir()
			res, err := runTrials(context.Background(), e, RunOptions{OutDir: out}, res, run)
			require.NoError(t, err)

			wantCrossed := min(tc.crossedRuns, maxCrossedRuns-1)
			assert.Len(t, res.Crossed(), trials*wantCrossed)
			for _, tr := range res.Trials {
				assert.Equal(t, min(tc.crossedRuns+1, maxCrossedRuns), attempts[tr.Trial], "attempts of trial %d", tr.Trial)
				for _, c := range tr.Crossed {
					assert.Equal(t, "other trial 9", c.By)
					assert.Equal(t, foreign, c.Conv)
					assert.FileExists(t, c.Pcapng)
					assert.Contains(t, filepath.Base(c.Pcapng), "-crossed-")
				}
				if tc.wantFailed {
					var c Crossing
					require.ErrorAs(t, tr.Err, &c)
					assert.Empty(t, tr.Class.Name)
				} else {
					assert.NoError(t, tr.Err)
					assert.Equal(t, "answered", tr.Class.Name)
				}
			}
			if !tc.wantFailed {
				assert.Equal(t, trials, res.Counts["answered"])
			}
			s := res.Summary()
			assert.Equal(t, trials*wantCrossed, s.Crossed)
			_, err = os.Stat(filepath.Join(out, e.ID, "trial-001.pcapng"))
			assert.Equal(t, !tc.wantFailed, err == nil, "the trial's own capture")
		})
	}
}

// newConv registers a conv of own's trial, as a session it dials would.
func newConv(t *testing.T, own *kcpgo.Owner) uint32 {
	t.Helper()
	conv, err := own.NewConv()
	require.NoError(t, err)
	return conv
}

// TestOwnConvIsNotACrossing: a trial's own sessions' convs, and convs no trial dialed, cross nothing.
func TestOwnConvIsNotACrossing(t *testing.T) {
	t.Parallel()
	own := &kcpgo.Owner{Exp: "x", Trial: 1}
	a, b := newConv(t, own), newConv(t, own)
	tr := &Trace{owner: own, Segments: []Seg{{Segment: kcpwire.Segment{Conv: a}, Dir: C2S}, {Segment: kcpwire.Segment{Conv: b}, Dir: S2C}}}
	_, crossed := tr.crossing()
	assert.False(t, crossed)
	tr.Segments = append(tr.Segments, Seg{Segment: kcpwire.Segment{Conv: a ^ b ^ 0x5a5a5a5a}}) // stray bytes, from a stray address
	// no trial registered that conv
	if (&kcpgo.Owner{}).CrossedBy(a^b^0x5a5a5a5a) == nil {
		_, crossed = tr.crossing()
		assert.False(t, crossed)
	}
	_, crossed = (&Trace{Segments: tr.Segments}).crossing()
	assert.False(t, crossed, "a trace of peers (no owner) is never crossed")
}

// TestOwnConvFromAForeignSocketIsACrossing: a segment of the trial's own conv from an address that is
// neither of its ends was sent through another trial's socket (kcp-go's shared workers); a stray
// datagram of a conv the trial did not dial, from a stray address, is the experiment's own doing.
func TestOwnConvFromAForeignSocketIsACrossing(t *testing.T) {
	t.Parallel()
	own := &kcpgo.Owner{Exp: "x", Trial: 2}
	conv := newConv(t, own)
	tr := &Trace{owner: own, Segments: []Seg{
		{Segment: kcpwire.Segment{Conv: conv}, Dir: C2S, Datagram: 0},
		{Segment: kcpwire.Segment{Conv: conv}, Dir: S2C, Datagram: 1},
		{Segment: kcpwire.Segment{Conv: conv}, Dir: DirUnknown, Datagram: 2},
	}}
	c, crossed := tr.crossing()
	require.True(t, crossed)
	assert.Equal(t, Crossing{By: "another trial's socket", Conv: conv, Datagram: 3, Foreign: true}, c)
	assert.Contains(t, c.Error(), "carries this trial's conv")
}

// TestOutsideDatagramToTheClientIsACrossing: a segment of a conv no trial of this process dialed,
// between one of the trial's ends and an address that is none of its sockets, is another process's
// session (the kernel gave its peer's port to this trial); one from a stray socket the role opened is
// the experiment's own doing.
func TestOutsideDatagramToTheClientIsACrossing(t *testing.T) {
	t.Parallel()
	own := &kcpgo.Owner{Exp: "x", Trial: 3}
	conv := newConv(t, own)
	outside, err := kcpgo.RandomConv()
	require.NoError(t, err)
	cli, srv := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:40001")
	other, stray := netip.MustParseAddrPort("127.0.0.1:40002"), netip.MustParseAddrPort("127.0.0.1:2000")
	tests := []struct {
		name     string
		src, dst netip.AddrPort
		want     bool
	}{
		{"to the client from elsewhere", other, cli, true},
		{"to the server from elsewhere", other, srv, true},
		{"from the server to elsewhere", srv, other, true},
		{"to the server from the role's stray", stray, srv, false},
		{"from the server to the role's stray", srv, stray, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := &Trace{owner: own, Client: cli, Server: srv, Strays: []netip.AddrPort{stray},
				Datagrams: []capture.Datagram{{Src: cli, Dst: srv}, {Src: tt.src, Dst: tt.dst}},
				Segments: []Seg{
					{Segment: kcpwire.Segment{Conv: conv}, Dir: C2S, Datagram: 0},
					{Segment: kcpwire.Segment{Conv: outside}, Dir: DirUnknown, Datagram: 1},
				}}
			c, crossed := tr.crossing()
			require.Equal(t, tt.want, crossed, "%v", c)
			if tt.want {
				assert.True(t, c.Outside)
				assert.Contains(t, c.Error(), "a port reused across processes")
			}
		})
	}
}

// attemptsOf returns a trialFunc that runs e's trials for real and passes each trace to change with
// its attempt number (from 1), and the attempts of each trial so far.
func attemptsOf(t *testing.T, e *Experiment, change func(tr *Trace, attempt int)) (trialFunc, map[int]int) {
	t.Helper()
	open, release, err := opener(CaptureTap)
	require.NoError(t, err)
	t.Cleanup(release)
	var mu sync.Mutex
	attempts := map[int]int{}
	return func(ctx context.Context, n int, seed uint64) (*Trace, error) {
		tr, err := RunTrial(ctx, e, n, open, seed)
		mu.Lock()
		attempts[n]++
		a := attempts[n]
		mu.Unlock()
		if tr != nil {
			change(tr, a)
		}
		return tr, err
	}, attempts
}
