// Package harness runs kcplab experiments: trials of a kcp-go server and client in one process over
// loopback UDP, captured datagram by datagram, classified into named outcome classes.
package harness

import (
	"net"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"

	"kcplab/link"
	"kcplab/script"
)

// Role is one side of an experiment: it gets the session as a net.Conn and returns the error it ended with.
type Role func(conn net.Conn) error

// Experiment is one question about kcp-go, answered by running trials and classifying each one.
type Experiment struct {
	ID       string // short id, e.g. "p003"
	Title    string // one line
	Question string // the question the experiment answers
	// Answer states the finding in one sentence from a run's counts (used in RESULTS.md).
	Answer func(r *Result) string

	Server Role // runs on every session the listener accepts
	// NoListener leaves the server's port without a listener: the client dials an address where
	// nothing reads (the port is bound, so nothing answers, not even an ICMP error). Server is unused.
	NoListener bool
	Client     Role // runs on the dialed session

	// ServerScript and ClientScript, when set, are the roles as data (package script; script.go):
	// each replaces its Go role and its session hook (Server and ServerSession, Client and
	// ClientSession), and pair trials send it to the peers, so that a peer of any implementation can
	// run it. An experiment whose roles need Go (net/http, Env) keeps its Go roles and is not offered
	// to peers that run scripts only.
	ServerScript *script.Script
	ClientScript *script.Script

	Transport     Transport               // framing on the wire: plain (default), FEC, encryption
	ServerSession func(s *kcp.UDPSession) // options for each accepted session (nil: kcp-go defaults)
	ClientSession func(s *kcp.UDPSession) // options for the client session (nil: kcp-go defaults)
	// Link is the network between the peers (zero: the perfect loopback); Links, when set, lists
	// several, one row of results each (see Variants).
	Link    link.Config
	Links   []link.Config
	Trials  int           // default number of trials
	Timeout time.Duration // bound on one trial (default 10 s)
	Quiet   time.Duration // wire silence that ends a trial once the roles returned (default 300 ms)
	// MinRTO is the shortest retransmission timeout the experiment's sessions use (default
	// FreezeLimit, kcp-go's 100 ms; nodelay 1 lowers it to 30 ms): a freeze of the process that long
	// can fire a retransmission by itself (freeze.go).
	MinRTO time.Duration

	// Short, when the protocol's own timers make a trial long (a dead-link limit tens of seconds
	// away), is the same question at a smaller scale, which the tests run instead.
	Short *Experiment

	Classes    []Class   // named outcomes; every trial must match exactly one
	Invariants []Check   // hold in every trial
	Timings    []Timing  // timing expectations of every class (besides its ladder's timed steps)
	Measures   []Measure // numbers reported per class (e.g. a gap in ms, sessions accepted)
}

// Variants returns the experiment once per link setting of Links (each with its Link set and the
// setting in its ID, e.g. "close-under-loss@loss=10%"), or the experiment itself when it has none.
func (e *Experiment) Variants() []*Experiment {
	if len(e.Links) == 0 {
		return []*Experiment{e}
	}
	out := make([]*Experiment, 0, len(e.Links))
	for _, l := range e.Links {
		v := *e
		v.ID, v.Link, v.Links = e.ID+"@"+l.String(), l, nil
		out = append(out, &v)
	}
	return out
}

// Measure is a number taken from each trial, summarised per class in the results.
type Measure struct {
	Name string                          // e.g. "final ACK after the response (ms)"
	Fn   func(tr *Trace) (float64, bool) // false when the trial has no such number
}

// Transport selects kcp-go's framing around the segments.
type Transport struct {
	DataShards, ParityShards int    // FEC when both are > 0
	Key                      []byte // AES key (16, 24 or 32 bytes) for encryption; nil for none
}

// Class is a named outcome of a trial: a trial is in the class when its wire ladder's pattern matches
// and its checks pass. Its timing (the ladder's timed steps, and Timings) is judged over all its trials.
type Class struct {
	Name        string // e.g. "delivered"
	Description string // what it means, one sentence
	Ladder      Ladder // the exact sequence of segments on the wire
	Checks      []Check
	Timings     []Timing // timing expectations of this class only
}

// Is reports whether c and o are the same class. A class is known by its name: the names of an
// experiment's classes are distinct, and a discovered class's name is its signature.
func (c Class) Is(o Class) bool { return c.Name == o.Name }

// Check is a named predicate on a trace; Fn returns nil when the trace satisfies it.
type Check struct {
	Name string
	Fn   func(tr *Trace) error
}

// Defaults used when an Experiment leaves a field zero.
const (
	DefaultTrials  = 20
	DefaultTimeout = 10 * time.Second
	DefaultQuiet   = 300 * time.Millisecond
)

func (e *Experiment) trials() int { return orInt(e.Trials, DefaultTrials) }

// TrialCount is the number of trials a run of e makes when asked for n (0: e's own count).
func (e *Experiment) TrialCount(n int) int { return orInt(n, e.trials()) }

// minRTO is e.MinRTO, or FreezeLimit.
func (e *Experiment) minRTO() time.Duration { return orDur(e.MinRTO, FreezeLimit) }

// TrialTimeout is how long a trial of e may run: e.Timeout, or DefaultTimeout.
func (e *Experiment) TrialTimeout() time.Duration { return orDur(e.Timeout, DefaultTimeout) }

// QuietPeriod is how long the wire must be silent for a trial of e to have settled: e.Quiet, or
// DefaultQuiet.
func (e *Experiment) QuietPeriod() time.Duration { return orDur(e.Quiet, DefaultQuiet) }

func orInt(v, d int) int {
	if v > 0 {
		return v
	}
	return d
}

func orDur(v, d time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return d
}
