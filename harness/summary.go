package harness

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"kcplab/internal/kcpgo"
	"kcplab/link"
)

// Summary is the machine-readable record of a run (summary.json).
type Summary struct {
	Experiment string `json:"experiment"`
	Title      string `json:"title"`
	Question   string `json:"question"`
	Answer     string `json:"answer,omitempty"`
	KCPGo      string `json:"kcp_go"`
	// KCPGoServer and KCPGoClient are the versions of the server's and the client's peers, for a run
	// whose roles ran in two peer processes (kcplab matrix -pairs); KCPGo then names both.
	KCPGoServer string         `json:"kcp_go_server,omitempty"`
	KCPGoClient string         `json:"kcp_go_client,omitempty"`
	Capture     CaptureKind    `json:"capture"`
	Parallel    int            `json:"parallel"`
	StaggerMs   float64        `json:"stagger_ms"` // the least time between two trial starts (Stagger)
	Started     time.Time      `json:"started"`
	Seconds     float64        `json:"seconds"`
	Classes     map[string]int `json:"classes"` // named and discovered classes (RunOptions.Discover)
	// Discovered lists the classes the run named by a trial's signature, each with an example.
	Discovered []DiscoveredClass `json:"discovered,omitempty"`
	Failed     int               `json:"failed"`
	// TimingTrials counts the trials run after the asked-for ones, for timing only (Result.TimingTrials).
	TimingTrials int `json:"timing_trials,omitempty"`
	// Crossed counts the attempts that another trial's datagram crossed (harness/crossed.go), run again;
	// each trial lists its own.
	Crossed int `json:"crossed"`
	// TimingFailed counts the timing verdicts that failed; Timing lists every verdict, with the trials
	// outside tolerance and the stall measured around each.
	TimingFailed int         `json:"timing_failed"`
	Timing       []Verdict   `json:"timing"`
	Load         LoadSummary `json:"load"`
	// Concurrency is what the run shared the process with, when a scheduler ran it (package sched).
	Concurrency *Concurrency `json:"concurrency,omitempty"`
	// GoMaxProcs and CPUs are the Go scheduler's processors and the machine's CPUs in the process that
	// ran the trials (for a pair run, the process that ran its peers, which inherit its environment):
	// the shares a Close race decides move with them (RESULTS.md, p003).
	GoMaxProcs int `json:"gomaxprocs"`
	CPUs       int `json:"cpus"`
	// ServerPeer and ClientPeer name the peers of a pair run as their hellos did (any implementation).
	ServerPeer *PeerIdent `json:"server_peer,omitempty"`
	ClientPeer *PeerIdent `json:"client_peer,omitempty"`
	// Link is the network between the peers, when there was one: its SPEC, the run's seed (trial n
	// used Seed+n-1) and what it did per direction over every trial.
	Link   *LinkTotals    `json:"link,omitempty"`
	Trials []TrialSummary `json:"trials"`
}

// Concurrency is the load of trials a run ran under, while it ran: every run's trials in flight in
// the process (counted by the scheduler that held them), and the runs side by side.
type Concurrency struct {
	SideBySide bool `json:"side_by_side"` // false: the runs ran one after another
	// InFlightLimit is the most trials the scheduler lets be in flight at once; it lowers the bound
	// under load down to a floor (LimitMin: the lowest it was while this run ran).
	InFlightLimit int     `json:"in_flight_limit"`
	LimitMin      int     `json:"limit_min"`
	InFlightMax   int     `json:"in_flight_max"`  // the most trials of every run in flight at once
	InFlightMean  float64 `json:"in_flight_mean"` // their mean over the run's time
	// ExperimentsSideBySide is the most runs (this one included) that had started and not ended at once.
	ExperimentsSideBySide int `json:"experiments_side_by_side"`
}

// PeerIdent is a peer process as its hello names it (peer/peer.go): its implementation, the
// implementation's version and, for a kcp-go peer, the release.
type PeerIdent struct {
	Impl        string `json:"impl"`
	ImplVersion string `json:"impl_version,omitempty"`
	KCPGo       string `json:"kcp_go,omitempty"`
	// Host names where the peer ran (a network namespace; absent: the coordinator's host) and Bind
	// the address its sockets bound to (absent: 127.0.0.1).
	Host string `json:"host,omitempty"`
	Bind string `json:"bind,omitempty"`
	// Clock is the peer's clock as the coordinator measured it (absent: not measured).
	Clock *PeerClock `json:"clock,omitempty"`
}

// PeerClock is a peer's clock offset from the coordinator's (the peer's minus the coordinator's),
// within ± the uncertainty, from the shortest of its clock round trips (peer/clock.go), and the
// correction subtracted from the peer's times (the offset, or 0 when 0 is within the uncertainty).
type PeerClock struct {
	OffsetNs      int64 `json:"offset_ns"`
	UncertaintyNs int64 `json:"uncertainty_ns"`
	CorrectionNs  int64 `json:"correction_ns"`
	Samples       int   `json:"samples"`
}

// LinkTotals is what a run's link did, summed over its trials.
type LinkTotals struct {
	Spec string     `json:"spec"`
	Seed uint64     `json:"seed"`
	C2S  LinkCounts `json:"c2s"`
	S2C  LinkCounts `json:"s2c"`
}

// LinkCounts counts the datagrams of one direction over a run.
type LinkCounts struct {
	Sent       uint64     `json:"sent"`
	Delivered  uint64     `json:"delivered"` // copies that crossed the wire, duplicates included
	Dropped    link.Drops `json:"dropped"`
	Duplicated uint64     `json:"duplicated"`
	Delayed    uint64     `json:"delayed"`
	Closed     uint64     `json:"closed"` // still in the link when the trial's sockets closed
}

func (c *LinkCounts) add(s link.Stats) {
	c.Sent += s.Sent
	c.Delivered += s.Delivered
	c.Duplicated += s.Duplicated
	c.Delayed += s.Delayed
	c.Closed += s.Closed
	d := &c.Dropped
	d.Loss += s.Dropped.Loss
	d.Burst += s.Dropped.Burst
	d.DropList += s.Dropped.DropList
	d.Blackhole += s.Dropped.Blackhole
	d.QueueFull += s.Dropped.QueueFull
	d.Overflow += s.Dropped.Overflow
}

// DiscoveredClass is a class a run discovered: its name (the signature), how many trials, and one
// example's trial number and ladder.
type DiscoveredClass struct {
	Name    string `json:"name"`
	Trials  int    `json:"trials"`
	Example int    `json:"example_trial"`
	Ladder  string `json:"example_ladder"`
}

// TrialSummary is one trial in summary.json.
type TrialSummary struct {
	Trial     int     `json:"trial"`
	Class     string  `json:"class"`
	Pcapng    string  `json:"pcapng,omitempty"`
	Datagrams int     `json:"datagrams"`
	Accepts   int     `json:"accepts"`
	StallMs   float64 `json:"longest_stall_ms,omitempty"` // the longest stall of the process during the trial
	// InFlight is the mean number of trials in flight in the process while this one ran, itself
	// included (absent: no scheduler measured it).
	InFlight float64 `json:"in_flight,omitempty"`
	// Link is what the trial's link did; its seed replays the trial (kcplab run -seed N -trials 1).
	Link  *link.Summary `json:"link,omitempty"`
	Error string        `json:"error,omitempty"`
	// Failures says what the error was, as fields (kind, the classes tried or fit, the first step
	// that did not fit, the invariant broken): read these, not the error's text.
	Failures []Failure `json:"failures,omitempty"`
	// Crossed lists the earlier attempts of the trial that another trial crossed, run again (their
	// pcapng by file name, as Pcapng).
	Crossed []CrossedRun `json:"crossed,omitempty"`
}

// Summary condenses the result for summary.json.
func (r *Result) Summary() Summary {
	s := Summary{Experiment: r.Experiment.ID, Title: r.Experiment.Title, Question: r.Experiment.Question,
		KCPGo: kcpgo.Version(), Capture: r.Capture, Parallel: r.Parallel, StaggerMs: ms(r.Stagger), Started: r.Started,
		Seconds: r.Elapsed.Seconds(), Classes: r.Counts, Failed: len(r.Failed()), TimingTrials: len(r.TimingTrials),
		TimingFailed: len(r.TimingFailed()), Timing: r.Timing, Load: r.Load(), Crossed: len(r.Crossed()),
		Concurrency: r.Concurrency, GoMaxProcs: runtime.GOMAXPROCS(0), CPUs: runtime.NumCPU()}
	if r.KCPGoServer != "" || r.KCPGoClient != "" {
		s.KCPGo = "server " + r.KCPGoServer + " × client " + r.KCPGoClient
		s.KCPGoServer, s.KCPGoClient = r.KCPGoServer, r.KCPGoClient
	}
	if r.Experiment.Answer != nil {
		s.Answer = r.Experiment.Answer(r)
	}
	for _, c := range r.Discovered() {
		ex := r.Example(c)
		s.Discovered = append(s.Discovered, DiscoveredClass{Name: c.Name, Trials: r.Count(c), Example: ex.Trial, Ladder: ex.Trace.Ladder()})
	}
	for _, t := range r.Trials {
		ts := TrialSummary{Trial: t.Trial, Class: t.Class.Name, Pcapng: t.Pcapng, InFlight: t.InFlight}
		if t.Pcapng != "" {
			ts.Pcapng = filepath.Base(t.Pcapng)
		}
		for _, c := range t.Crossed {
			if c.Pcapng != "" {
				c.Pcapng = filepath.Base(c.Pcapng)
			}
			ts.Crossed = append(ts.Crossed, c)
		}
		if t.Trace != nil {
			ts.Datagrams, ts.Accepts = len(t.Trace.Datagrams), t.Trace.Accepts
			ts.StallMs = ms(t.Trace.Stalls.Longest())
			if l := t.Trace.Link; l != nil {
				ts.Link = &l.Summary
				if s.Link == nil {
					s.Link = &LinkTotals{Spec: l.Summary.Spec, Seed: r.Seed}
				}
				s.Link.C2S.add(l.Summary.C2S)
				s.Link.S2C.add(l.Summary.S2C)
			}
		}
		if t.Err != nil {
			ts.Error, ts.Failures = t.Err.Error(), FailuresOf(t.Err)
		}
		s.Trials = append(s.Trials, ts)
	}
	return s
}

// RemoveTrials removes the trial-NNN.pcapng files and summary.json an earlier run left in dir, so
// that a run of fewer trials does not leave captures that its summary does not list.
func RemoveTrials(dir string) error {
	old, err := filepath.Glob(filepath.Join(dir, "trial-[0-9][0-9][0-9]*.pcapng"))
	if err != nil {
		return err
	}
	for _, p := range append(old, filepath.Join(dir, "summary.json")) {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// WriteSummary writes dir/summary.json.
func (r *Result) WriteSummary(dir string) (string, error) { return r.Summary().Write(dir) }

// Write writes the summary as dir/summary.json and returns its path.
func (s Summary) Write(dir string) (string, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "summary.json")
	return path, os.WriteFile(path, append(b, '\n'), 0o644)
}
