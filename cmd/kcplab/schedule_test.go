package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/experiments"
	"kcplab/harness"
)

var (
	benchIDs    = flag.String("kcplab.bench-ids", "p001,p003,p004,garbage-datagram,port-reuse,idle-peer,server-restart", "BenchmarkSideBySide: the experiments, comma-separated")
	benchTrials = flag.Int("kcplab.bench-trials", 20, "BenchmarkSideBySide: trials per experiment (0: each experiment's default)")
)

// TestRunSideBySidePrintsInOrder: side by side and one after another print the same experiments'
// blocks, whole and in the order given (p004, with the longer time bound and so the longer estimate,
// starts first but is printed second), and each summary.json records the concurrency it ran under.
func TestRunSideBySidePrintsInOrder(t *testing.T) {
	t.Parallel()
	ids := []string{"garbage-datagram", "p004"}
	for _, tc := range []struct {
		name       string
		flags      []string
		sideBySide bool
	}{
		{"side by side", nil, true},
		{"sequential", []string{"-sequential"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			args := append(append([]string{"run", "-trials", "2", "-parallel", "2", "-out", out}, tc.flags...), ids...)
			code, stdout, errs := kcplab(t, args...)
			require.Equal(t, 0, code, errs+stdout)
			at := 0
			var started []time.Time
			for _, id := range ids {
				head := strings.Index(stdout, id+": ")
				end := strings.Index(stdout, "; pcapng files and summary: "+filepath.Join(out, id)+"\n")
				require.True(t, head >= at && end > head, "%s's block is not whole and in order:\n%s", id, stdout)
				at = end
				b, err := os.ReadFile(filepath.Join(out, id, "summary.json"))
				require.NoError(t, err)
				var sum harness.Summary
				require.NoError(t, json.Unmarshal(b, &sum))
				require.NotNil(t, sum.Concurrency, "%s: summary.json without concurrency", id)
				c := sum.Concurrency
				started = append(started, sum.Started)
				assert.Equal(t, tc.sideBySide, c.SideBySide)
				assert.Positive(t, c.InFlightMax)
				assert.LessOrEqual(t, c.InFlightMax, c.InFlightLimit)
				assert.LessOrEqual(t, c.InFlightMean, float64(c.InFlightLimit))
				assert.LessOrEqual(t, c.LimitMin, c.InFlightLimit)
				if !tc.sideBySide {
					assert.Equal(t, 1, c.ExperimentsSideBySide)
					assert.Equal(t, 2, c.InFlightLimit, "sequential: the bound is -parallel")
				}
			}
			assert.Equal(t, tc.sideBySide, started[1].Before(started[0]), "side by side, the longest starts first; else the first given")
		})
	}
}

func TestRunSchedulerBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"in-flight above its bound", []string{"-in-flight", "257", "p004"}, "-in-flight: want 0..256"},
		{"in-flight below zero", []string{"-in-flight", "-1", "p004"}, "-in-flight: want 0..256"},
		{"one experiment twice side by side", []string{"-trials", "1", "p004", "p004"}, "named twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, errs := kcplab(t, append([]string{"run", "-out", t.TempDir()}, tc.args...)...)
			assert.Equal(t, 2, code)
			assert.Contains(t, errs, tc.want)
		})
	}
}

// BenchmarkSideBySide runs a few experiments one after another and then side by side, in one run, and
// reports both times and their ratio (side/seq: below 1, side by side is faster). Low trial counts:
//
//	go test -run '^$' -bench SideBySide -benchtime 1x ./cmd/kcplab -kcplab.bench-trials 20
func BenchmarkSideBySide(b *testing.B) {
	exps, err := experiments.SelectAll(strings.Split(*benchIDs, ","))
	if err != nil {
		b.Fatal(err)
	}
	var seq, side time.Duration
	for b.Loop() {
		for _, sequential := range []bool{true, false} {
			f := runFlags{trials: *benchTrials, parallel: harness.DefaultParallel, out: b.TempDir(), capture: "tap", sequential: sequential}
			start := time.Now()
			if _, _, err := f.runAll(context.Background(), io.Discard, io.Discard, exps, harness.CaptureTap); err != nil {
				b.Fatalf("sequential=%v: %v", sequential, err)
			}
			if sequential {
				seq += time.Since(start)
			} else {
				side += time.Since(start)
			}
		}
	}
	b.ReportMetric(seq.Seconds()/float64(b.N), "seq-s/op")
	b.ReportMetric(side.Seconds()/float64(b.N), "side-s/op")
	b.ReportMetric(side.Seconds()/seq.Seconds(), "side/seq")
}
