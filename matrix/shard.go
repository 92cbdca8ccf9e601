package matrix

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"kcplab/harness"
	"kcplab/report"
)

// A split run: the work is a sorted list of cells, and shard I of N runs the cells whose index in
// that list is I modulo N (round-robin). A cell is one experiment (one link of it: an experiment
// with several links is one id per link), one kcp-go version (or none, for `kcplab run`) and one
// block of trials. The cells do not depend on N, and trial n keeps its number and its link seed
// (the run's seed + n - 1) in whichever shard runs it, so the trials run are the same for every N.

// Shard is shard I of N (0 <= I < N); the zero Shard is an unsplit run.
type Shard struct{ I, N int }

// MaxShards bounds N.
const MaxShards = 10000

// ErrBadShard is the error of a shard that does not parse or is out of range.
var ErrBadShard = errors.New("bad shard")

// ErrBadCells is the error of a list of cells (ParseCells) that does not parse or names no cell.
var ErrBadCells = errors.New("bad -cells")

// ShardsEnv names the environment variable that holds N when JOB_COMPLETION_INDEX (a Kubernetes
// Indexed Job's pod index) holds I.
const ShardsEnv = "KCPLAB_SHARDS"

// IndexEnv is the environment variable a Kubernetes Indexed Job sets to the pod's index.
const IndexEnv = "JOB_COMPLETION_INDEX"

// ParseShard parses "I/N".
func ParseShard(s string) (Shard, error) {
	is, ns, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, fmt.Errorf("%w %q: want I/N, e.g. 0/4 (I from 0 to N-1)", ErrBadShard, s)
	}
	return shardOf(is, ns, s)
}

func shardOf(is, ns, what string) (Shard, error) {
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	switch {
	case err1 != nil || err2 != nil:
		return Shard{}, fmt.Errorf("%w %s: want I/N, two integers, e.g. 0/4", ErrBadShard, what)
	case n < 1 || n > MaxShards:
		return Shard{}, fmt.Errorf("%w %s: N %d, want 1..%d", ErrBadShard, what, n, MaxShards)
	case i < 0 || i >= n:
		return Shard{}, fmt.Errorf("%w %s: I %d, want 0..%d (I counts from 0)", ErrBadShard, what, i, n-1)
	}
	return Shard{I: i, N: n}, nil
}

// ShardFromEnv reads the shard from JOB_COMPLETION_INDEX (I) and KCPLAB_SHARDS (N). It reports
// false when either is unset or empty; one set without the other, or values out of range, are an
// error wrapping ErrBadShard.
func ShardFromEnv(getenv func(string) string) (Shard, bool, error) {
	is, ns := getenv(IndexEnv), getenv(ShardsEnv)
	switch {
	case is == "" && ns == "":
		return Shard{}, false, nil
	case ns == "":
		return Shard{}, false, fmt.Errorf("%w: %s=%s is set but not %s (the number of shards: the Job's completions)", ErrBadShard, IndexEnv, is, ShardsEnv)
	case is == "":
		// KCPLAB_SHARDS alone, outside a Job, is not a shard.
		return Shard{}, false, nil
	}
	s, err := shardOf(is, ns, fmt.Sprintf("%s=%s %s=%s", IndexEnv, is, ShardsEnv, ns))
	return s, err == nil, err
}

// Split reports whether s splits the run (the zero Shard does not).
func (s Shard) Split() bool { return s.N > 0 }

// String is "I/N".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.I, s.N) }

// Cell is one unit of a split run: trials First+1 .. First+Count of one experiment with one version.
type Cell struct {
	Experiment string `json:"experiment"`
	Version    string `json:"version,omitempty"` // the kcp-go version; empty for kcplab run
	First      int    `json:"first"`             // trials First+1 ..
	Count      int    `json:"count"`             // .. First+Count
	Whole      bool   `json:"whole"`             // the block is every trial of the experiment
}

// String names the cell as -cells takes it: ID for every trial, ID:FROM-TO for a block.
func (c Cell) String() string {
	if c.Whole {
		return c.Experiment
	}
	return fmt.Sprintf("%s:%d-%d", c.Experiment, c.First+1, c.First+c.Count)
}

// Dir is the directory of the cell's trials and summary.json in a run's output directory out:
// out/ID for every trial of the experiment (as an unsplit run writes it), out/trials-FROM-TO/ID
// for a block.
func (c Cell) Dir(out string) string {
	if c.Whole {
		return filepath.Join(out, c.Experiment)
	}
	return filepath.Join(out, fmt.Sprintf("trials-%04d-%04d", c.First+1, c.First+c.Count), c.Experiment)
}

// OutDir is the run's output directory to give harness.Run for the cell: harness writes under
// OUT/ID, which is Dir.
func (c Cell) OutDir(out string) string { return filepath.Dir(c.Dir(out)) }

// Cells lists the cells of experiments es with versions vs (nil: one run without a version), in
// their order: by experiment, then version, then block. block is the trials per cell (0: all of an
// experiment's trials in one cell).
func Cells(es []*harness.Experiment, vs []string, trials, block int) []Cell {
	if vs == nil {
		vs = []string{""}
	}
	var out []Cell
	for _, e := range es {
		n := e.TrialCount(trials)
		b := block
		if b <= 0 || b >= n {
			b = n
		}
		for _, v := range vs {
			for first := 0; first < n; first += b {
				out = append(out, Cell{Experiment: e.ID, Version: v, First: first, Count: min(b, n-first), Whole: b == n})
			}
		}
	}
	return out
}

// Pick returns the cells of shard s: those whose index in cells is s.I modulo s.N (all of them
// for the zero Shard).
func (s Shard) Pick(cells []Cell) []Cell {
	if !s.Split() {
		return cells
	}
	var out []Cell
	for i, c := range cells {
		if i%s.N == s.I {
			out = append(out, c)
		}
	}
	return out
}

// ParseCells parses -cells: comma-separated ID (every trial of the experiment, trials of them) or
// ID:FROM-TO (trials FROM..TO, 1-based, inclusive), for experiments es.
func ParseCells(list string, es []*harness.Experiment, trials int) ([]Cell, error) {
	byID := map[string]*harness.Experiment{}
	for _, e := range es {
		byID[e.ID] = e
	}
	var out []Cell
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, rng, block := strings.Cut(item, ":")
		e := byID[id]
		if e == nil {
			return nil, fmt.Errorf("%w %q: no experiment %q", ErrBadCells, item, id)
		}
		n := e.TrialCount(trials)
		c := Cell{Experiment: id, Count: n, Whole: true}
		if block {
			fs, ts, ok := strings.Cut(rng, "-")
			from, err1 := strconv.Atoi(fs)
			to, err2 := strconv.Atoi(ts)
			if !ok || err1 != nil || err2 != nil || from < 1 || to < from || to > n {
				return nil, fmt.Errorf("%w %q: want ID:FROM-TO with 1 <= FROM <= TO <= %d (%s's trials)", ErrBadCells, item, n, id)
			}
			c = Cell{Experiment: id, First: from - 1, Count: to - from + 1, Whole: from == 1 && to == n}
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w %q: no cell", ErrBadCells, list)
	}
	return out, nil
}

// SplitSeed is the link seed of a split run not given one: derived from its settings, so that every
// shard draws the same seeds without being told one (trial n: seed + n - 1).
func SplitSeed(settings Settings) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%q %q %d %d %q", settings.Experiments, settings.Versions, settings.Trials, settings.Block, settings.Link)
	if s := h.Sum64(); s != 0 {
		return s
	}
	return 1
}

// Settings are what a split run's parts must share to be merged.
type Settings struct {
	Command     string   `json:"command"` // matrix or run
	Experiments []string `json:"experiments"`
	Versions    []string `json:"versions,omitempty"`
	Trials      int      `json:"trials"` // trials asked per experiment (0: each experiment's default)
	Block       int      `json:"block"`  // trials per cell (0: an experiment's trials in one cell)
	Parallel    int      `json:"parallel"`
	Seed        uint64   `json:"seed"`
	Link        string   `json:"link,omitempty"`
	Capture     string   `json:"capture,omitempty"`
	Discover    bool     `json:"discover,omitempty"`
}

// BuildID identifies the running kcplab build: its VCS revision when it was built from a clean
// checkout (the same on every machine that builds that commit), else the SHA-256 of its executable.
func BuildID() (string, error) {
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, modified := "", true
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if rev != "" && !modified {
			return "vcs:" + rev, nil
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("kcplab's build: %w", err)
	}
	f, err := os.Open(exe)
	if err != nil {
		return "", fmt.Errorf("kcplab's build: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("kcplab's build: %w", err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// cellsOf returns the cells of version v.
func cellsOf(cells []Cell, v string) []Cell {
	var out []Cell
	for _, c := range cells {
		if c.Version == v {
			out = append(out, c)
		}
	}
	return out
}

// cellList is cells as -cells takes them.
func cellList(cells []Cell) string {
	names := make([]string, len(cells))
	for i, c := range cells {
		names[i] = c.String()
	}
	return strings.Join(names, ",")
}

// cellCounts reads the summary.json of each cell run under dir and sums them per experiment.
func cellCounts(dir string, cells []Cell) map[string]*report.VersionCounts {
	res := map[string]*report.VersionCounts{}
	for _, c := range cells {
		vc := readCounts(filepath.Join(c.Dir(dir), "summary.json"))
		have := res[c.Experiment]
		if have == nil {
			res[c.Experiment] = vc
			continue
		}
		me := report.MatrixExperiment{Versions: map[string]*report.VersionCounts{"": have}}
		_ = addCounts(&me, "", vc) // one binary ran every cell: the same kcp-go
	}
	return res
}
