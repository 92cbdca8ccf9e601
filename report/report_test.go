package report

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/capture"
	"kcplab/harness"
	"kcplab/kcpwire"
	"kcplab/link"
)

// Classes of the synthetic experiment.
var (
	synDelivered = harness.Class{Name: "delivered", Description: "the response arrived."}
	synLost      = harness.Class{Name: "response lost at Close", Description: "Close dropped the response."}
	synNever     = harness.Class{Name: "never seen", Description: "a class no trial fell in."}
)

// syntheticResult is a run of a made-up experiment with every part Block renders: a link, delivered and
// lost trials with traces (one with a stray datagram and a segment the link dropped), a failed trial, a
// crossed attempt, timing verdicts of each kind, an invariant and a measure.
func syntheticResult() *harness.Result {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	client, server := netip.MustParseAddrPort("127.0.0.1:40001"), netip.MustParseAddrPort("127.0.0.1:40000")
	stray := netip.MustParseAddrPort("127.0.0.1:40009")
	seg := func(at float64, d harness.Dir, cmd kcpwire.Cmd, sn, una, n uint32, dg int) harness.Seg {
		return harness.Seg{Segment: kcpwire.Segment{Cmd: cmd, Sn: sn, Una: una, Len: n, Wnd: 32}, Datagram: dg,
			Time: time.Duration(at * float64(time.Millisecond)), Dir: d}
	}
	ev := func(at float64, side harness.Side, kind harness.EventKind, data string, err error) harness.Event {
		return harness.Event{Time: t0.Add(time.Duration(at * float64(time.Millisecond))), Side: side, Kind: kind,
			N: len(data), Data: []byte(data), Err: err}
	}
	delivered := func(n int) *harness.Trace {
		return &harness.Trace{Experiment: "syn", Trial: n, Start: t0, Client: client, Server: server, Accepts: 1,
			Segments: []harness.Seg{
				seg(0.2, harness.C2S, kcpwire.CmdPush, 0, 0, 5, 0),
				seg(0.4, harness.S2C, kcpwire.CmdAck, 0, 1, 0, 1),
				seg(0.5, harness.S2C, kcpwire.CmdPush, 0, 1, 5, 1),
				seg(100.3, harness.C2S, kcpwire.CmdAck, 0, 1, 0, 2),
			},
			Events: []harness.Event{
				ev(0.1, harness.Client, harness.EvWrite, "hello", nil),
				ev(0.6, harness.Client, harness.EvRead, "world", nil),
			}}
	}
	lost := &harness.Trace{Experiment: "syn", Trial: 3, Start: t0, Client: client, Server: server, Accepts: 1,
		Datagrams: []capture.Datagram{{Src: client, Dst: server}, {Src: server, Dst: stray}},
		Segments: []harness.Seg{
			seg(0.2, harness.C2S, kcpwire.CmdPush, 0, 0, 5, 0),
			seg(0.3, harness.DirUnknown, kcpwire.CmdAck, 7, 0, 0, 1),
			{Segment: kcpwire.Segment{Cmd: kcpwire.CmdPush, Una: 1, Len: 5, Wnd: 32}, Datagram: -1,
				Time: 500 * time.Microsecond, Dir: harness.S2C, Dropped: "loss"},
		},
		Events: []harness.Event{
			ev(0.1, harness.Client, harness.EvWrite, "hello", nil),
			ev(1001, harness.Client, harness.EvRead, "", timeoutErr{}),
		}}
	lost.Events[1].Dur = time.Second
	lengths := harness.Measure{Name: "bytes in the first segment", Fn: func(tr *harness.Trace) (float64, bool) {
		if len(tr.Segments) == 0 {
			return 0, false
		}
		return float64(tr.Segments[0].Len) + 0.25*float64(tr.Trial%2), true
	}}
	e := &harness.Experiment{
		ID: "syn", Title: "a synthetic experiment", Question: "Does the response arrive?",
		Answer: func(r *harness.Result) string {
			return fmt.Sprintf("In %d of %d trials.", r.Count(synDelivered), len(r.Trials))
		},
		Link:       link.MustParse("loss=10%"),
		Classes:    []harness.Class{synDelivered, synLost, synNever},
		Invariants: []harness.Check{{Name: "the client wrote once"}},
		Measures:   []harness.Measure{lengths},
	}
	return &harness.Result{
		Experiment: e, Capture: harness.CaptureTap, Parallel: 4, Started: t0, Elapsed: 1234 * time.Millisecond, Seed: 42,
		Trials: []harness.TrialResult{
			{Trial: 1, Class: synDelivered, Trace: delivered(1), Pcapng: "out/syn/trial-001.pcapng"},
			{Trial: 2, Class: synDelivered, Trace: delivered(2), Pcapng: "out/syn/trial-002.pcapng",
				Crossed: []harness.CrossedRun{{Crossing: &harness.Crossing{By: "other trial 9", Conv: 7, Datagram: 2}}}},
			{Trial: 3, Class: synLost, Trace: lost, Pcapng: "out/syn/trial-003.pcapng"},
			{Trial: 4, Err: errors.New("trial 4 fits no class"), Trace: delivered(4)},
		},
		Counts: map[string]int{synDelivered.Name: 2, synLost.Name: 1, synNever.Name: 0},
		Timing: []harness.Verdict{
			{Class: synDelivered.Name, Timing: "final ACK @100ms | tick", N: 2, Within: 2, MedianMs: 99.8, Judged: true, OK: true},
			{Class: synDelivered.Name, Timing: "response @0ms", N: 2, Within: 1, Explained: 1, MedianMs: 0.5, Judged: true, Why: "median 0.5 ms outside 0.2 ms"},
			{Class: synLost.Name, Timing: "retransmission @200ms", N: 1, Within: 1, MedianMs: 200.1, OK: true, Why: "1 value(s), at least 5 needed"},
		},
	}
}

// timeoutErr is a deadline error as kcp-go returns it.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestBlockGolden(t *testing.T) {
	t.Parallel()
	r := syntheticResult()
	ex := Examples{"syn/" + synDelivered.Name: "testdata/syn/delivered.pcapng"}
	golden(t, "block", Block(r, ex, synMeta("kcplab results syn", 0)))
}

func TestSummaryGolden(t *testing.T) {
	t.Parallel()
	noAnswer := syntheticResult()
	noAnswer.Experiment.ID, noAnswer.Experiment.Answer = "unanswered", nil
	golden(t, "summary", Summary(RunMatrix([]*harness.Result{syntheticResult(), noAnswer}, "out", 0)))
}

// TestBlockFollowsCounts checks that the block's table and answer come from the result's counts, so
// the golden file cannot pass with numbers the renderer made up.
func TestBlockFollowsCounts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		edit  func(r *harness.Result)
		wants []string
	}{
		{"as run", func(*harness.Result) {}, []string{
			"**Answer.** In 2 of 4 trials.",
			"| delivered | 2 | 50.0% | the response arrived. | [delivered.pcapng](testdata/syn/delivered.pcapng) |",
			"| response lost at Close | 1 | 25.0% | Close dropped the response. | — |",
			"| *failed: fit no class or broke an invariant* | 1 | 25.0% | | |",
			"1 attempt(s) crossed",
		}},
		{"more delivered", func(r *harness.Result) { r.Counts[synDelivered.Name] = 3 }, []string{
			"**Answer.** In 3 of 4 trials.",
			"| delivered | 3 | 75.0% |",
		}},
		{"alone", func(r *harness.Result) {
			r.Concurrency = &harness.Concurrency{SideBySide: true, ExperimentsSideBySide: 1, InFlightMean: 3.9}
		}, []string{"4 trials, 4 at once, tap capture, 1.2 s, by `kcplab results syn`"}},
		{"beside others", func(r *harness.Result) {
			r.Concurrency = &harness.Concurrency{SideBySide: true, ExperimentsSideBySide: 17, InFlightMean: 61.8}
		}, []string{"4 trials, 4 at once beside up to 16 other experiments (62 trials in flight on average), tap capture, 1.2 s, by"}},
		{"nothing failed or crossed", func(r *harness.Result) {
			r.Trials = r.Trials[:3]
			r.Trials[1].Crossed = nil
		}, []string{
			"**Answer.** In 2 of 3 trials.",
			"| response lost at Close | 1 | 33.3% |",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := syntheticResult()
			tc.edit(r)
			b := Block(r, Examples{"syn/" + synDelivered.Name: "testdata/syn/delivered.pcapng"}, synMeta("kcplab results syn", 0))
			for _, w := range tc.wants {
				if !strings.Contains(b, w) {
					t.Errorf("missing %q in\n%s", w, b)
				}
			}
			if len(r.Failed()) == 0 && strings.Contains(b, "*failed: fit no class") {
				t.Errorf("a failed row without failed trials:\n%s", b)
			}
			if len(r.Crossed()) == 0 && strings.Contains(b, "crossed") {
				t.Errorf("a crossed line without crossed attempts:\n%s", b)
			}
		})
	}
}

// TestSummaryKeepsOtherExperiments: the summary of a run of some experiments, over the counts of a run
// of others, replaces their lines and keeps the others' in the kept run's order; new ones come last.
func TestSummaryKeepsOtherExperiments(t *testing.T) {
	t.Parallel()
	run := func(answers ...string) *Matrix { // "id:trials:answer" each
		m := &Matrix{Versions: []string{"v1"}}
		for _, a := range answers {
			id, rest, _ := strings.Cut(a, ":")
			n, answer, _ := strings.Cut(rest, ":")
			trials, err := strconv.Atoi(n)
			require.NoError(t, err)
			m.Experiments = append(m.Experiments, MatrixExperiment{ID: id,
				Versions: map[string]*VersionCounts{"v1": {Trials: trials, Answer: answer}}})
		}
		return m
	}
	kept := run("d:2:old d.", "b:2:old b.", "x:2:")
	for _, tc := range []struct {
		name      string
		run, kept *Matrix
		want      string
	}{
		{"replaced in place", run("b:5:new b."), kept, "- **d** (2 trials): old d.\n- **b** (5 trials): new b.\n"},
		{"new ones last", run("a:1:a.", "d:1:new d."), kept, "- **d** (1 trials): new d.\n- **b** (2 trials): old b.\n- **a** (1 trials): a.\n"},
		{"nothing kept", run("a:1:a."), nil, "- **a** (1 trials): a.\n"},
		{"kept from another version", run("a:1:a."), &Matrix{Versions: []string{"v0"}, Experiments: kept.Experiments}, "- **a** (1 trials): a.\n"},
		{"an experiment without an answer has no line", run("x:3:"), kept, "- **d** (2 trials): old d.\n- **b** (2 trials): old b.\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, Summary(tc.run.Keeping(tc.kept)))
		})
	}
}

// synMeta is the Meta of a run of command, h hours after 2025-01-02 03:04 UTC.
func synMeta(command string, h int) Meta {
	return Meta{Command: command, Date: time.Date(2025, 1, 2, 3+h, 4, 0, 0, time.UTC), GoVersion: "go1.26", Host: "linux/amd64, 2 CPUs, GOMAXPROCS 2"}
}

// TestWriteResultsNamesEachBlocksRun: a later run of one experiment rewrites the meta and that
// experiment's block, and the other experiment's block still names the run that made it.
func TestWriteResultsNamesEachBlocksRun(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "RESULTS.md")
	first, other := syntheticResult(), syntheticResult()
	e := *other.Experiment
	e.ID = "syn2"
	other.Experiment = &e
	both := RunMatrix([]*harness.Result{first, other}, "out", 0)
	require.NoError(t, WriteResults(path, nil, []*harness.Result{first, other}, both, nil, synMeta("make capture", 0)))
	old, err := os.ReadFile(path)
	require.NoError(t, err)
	other.Trials = other.Trials[:3]
	again := RunMatrix([]*harness.Result{other}, "out", 0).Keeping(both)
	require.NoError(t, WriteResults(path, old, []*harness.Result{other}, again, nil, synMeta("kcplab results syn2", 2)))
	doc, err := os.ReadFile(path)
	require.NoError(t, err)
	block := func(id string) string {
		_, _, body, ok := blockAt(doc, id)
		require.True(t, ok, "no block %s", id)
		return string(body)
	}
	assert.Contains(t, block("meta"), "Last written by `kcplab results syn2` on 2025-01-02 05:04 UTC")
	assert.Contains(t, block("syn"), "by `make capture` on 2025-01-02 03:04 UTC.")
	assert.Contains(t, block("syn2"), "by `kcplab results syn2` on 2025-01-02 05:04 UTC.")
	assert.Equal(t, "\n- **syn** (4 trials): In 2 of 4 trials.\n- **syn2** (3 trials): In 2 of 3 trials.\n", block("summary"))
}
