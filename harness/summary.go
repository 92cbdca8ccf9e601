package harness

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"
)

// Summary is the machine-readable record of a run (summary.json).
type Summary struct {
	Experiment string         `json:"experiment"`
	Title      string         `json:"title"`
	Question   string         `json:"question"`
	Answer     string         `json:"answer,omitempty"`
	KCPGo      string         `json:"kcp_go"`
	Capture    CaptureKind    `json:"capture"`
	Parallel   int            `json:"parallel"`
	Started    time.Time      `json:"started"`
	Seconds    float64        `json:"seconds"`
	Classes    map[string]int `json:"classes"` // named and discovered classes (RunOptions.Discover)
	// Discovered lists the classes the run named by a trial's signature, each with an example.
	Discovered []DiscoveredClass `json:"discovered,omitempty"`
	Failed     int               `json:"failed"`
	// TimingFailed counts the timing verdicts that failed; Timing lists every verdict, with the trials
	// outside tolerance and the stall measured around each.
	TimingFailed int            `json:"timing_failed"`
	Timing       []Verdict      `json:"timing"`
	Load         LoadSummary    `json:"load"`
	Trials       []TrialSummary `json:"trials"`
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
	Error     string  `json:"error,omitempty"`
}

// Summary condenses the result for summary.json.
func (r *Result) Summary() Summary {
	s := Summary{Experiment: r.Experiment.ID, Title: r.Experiment.Title, Question: r.Experiment.Question,
		KCPGo: KCPGoVersion(), Capture: r.Capture, Parallel: r.Parallel, Started: r.Started,
		Seconds: r.Elapsed.Seconds(), Classes: r.Counts, Failed: len(r.Failed()),
		TimingFailed: len(r.TimingFailed()), Timing: r.Timing, Load: r.Load()}
	if r.Experiment.Answer != nil {
		s.Answer = r.Experiment.Answer(r)
	}
	for _, name := range r.Discovered() {
		ex := r.Example(name)
		s.Discovered = append(s.Discovered, DiscoveredClass{Name: name, Trials: r.Counts[name], Example: ex.Trial, Ladder: ex.Trace.Ladder()})
	}
	for _, t := range r.Trials {
		ts := TrialSummary{Trial: t.Trial, Class: t.Class, Pcapng: t.Pcapng}
		if t.Pcapng != "" {
			ts.Pcapng = filepath.Base(t.Pcapng)
		}
		if t.Trace != nil {
			ts.Datagrams, ts.Accepts = len(t.Trace.Datagrams), t.Trace.Accepts
			ts.StallMs = ms(t.Trace.Stalls.Longest())
		}
		if t.Err != nil {
			ts.Error = t.Err.Error()
		}
		s.Trials = append(s.Trials, ts)
	}
	return s
}

// WriteSummary writes dir/summary.json.
func (r *Result) WriteSummary(dir string) (string, error) {
	b, err := json.MarshalIndent(r.Summary(), "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "summary.json")
	return path, os.WriteFile(path, append(b, '\n'), 0o644)
}
