package claims

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The test.cpp scenario: 1000 messages of 8 bytes (its sequence number and timestamp), one every 20
// ms, over a link that loses 5% each way and delays each datagram by 30 to 62.5 ms (order kept).
var (
	ModeTableEcho = Echo{Count: 1000, Size: 8, Every: 20 * time.Millisecond}
	ModeTableLink = "loss=5%,delay=46.25ms,jitter=16.25ms"
)

// The interactive workload of the comparison with TCP.
var InteractiveEcho = Echo{Count: 300, Size: 208, Every: 20 * time.Millisecond}

// Condition is one link of the comparison with TCP: its SPEC and what a reader calls it.
type Condition struct {
	Name string
	Link string
	// LossPct and DelayMs are the condition's loss (on what the server receives) and one-way delay
	// (each direction), for the charts against loss.
	LossPct float64
	DelayMs float64
}

// InteractiveConditions are the links of the interactive workload: loss alone on what the server
// receives, delay alone (each way), and three combinations.
var InteractiveConditions = []Condition{
	{"loss 0%", "", 0, 0},
	{"loss 2%", "c2s.loss=2%", 2, 0},
	{"loss 5%", "c2s.loss=5%", 5, 0},
	{"loss 10%", "c2s.loss=10%", 10, 0},
	{"delay 10ms", "delay=10ms", 0, 10},
	{"delay 50ms", "delay=50ms", 0, 50},
	{"delay 200ms", "delay=200ms", 0, 200},
	{"10ms+2%", "delay=10ms,c2s.loss=2%", 2, 10},
	{"50ms+5%", "delay=50ms,c2s.loss=5%", 5, 50},
	{"200ms+5%", "delay=200ms,c2s.loss=5%", 5, 200},
}

// BulkRate is the bottleneck of the bulk workloads, each way, with its queue and a 10 ms delay.
const BulkRate = "rate=20mbit,queue=100pkt,delay=10ms"

// BulkConditions are the links of the bulk workloads.
var BulkConditions = []Condition{
	{"loss 0%", BulkRate, 0, 10},
	{"loss 1%", BulkRate + ",c2s.loss=1%", 1, 10},
	{"loss 5%", BulkRate + ",c2s.loss=5%", 5, 10},
}

// BulkSizes are the bulk workloads' sizes.
var BulkSizes = []int{1 << 20, 10 << 20}

// Plan is the cases of one claims run, in groups that run one after another (each with its own
// concurrency: the bulk transfers load the machine, the echoes barely do).
type Plan struct {
	Groups []Group
}

// Group is cases that run side by side, at most Parallel at a time.
type Group struct {
	Name     string
	Cases    []Case
	Parallel int
}

// Cases returns every case of the plan.
func (p Plan) Cases() []Case {
	var out []Case
	for _, g := range p.Groups {
		out = append(out, g.Cases...)
	}
	return out
}

// GroupNames are the names of a plan's groups, in the order they run.
var GroupNames = []string{"modes", "interactive", "bulk"}

// Options choose a plan's parts and sizes.
type Options struct {
	Seeds     int  // per figure
	BulkSeeds int  // per bulk figure (the bulk transfers take longest)
	Hosts     bool // run the comparison with TCP (needs root)
	Parallel  int  // echo cases at once
	// Skip leaves out the named groups ("modes", "interactive", "bulk").
	Skip []string
	// Peers run the mode table too, each a KCP implementation in peer processes (the C reference,
	// another kcp-go release).
	Peers []PeerOption
}

// PeerOption is a peer the mode table runs on: its name and how to start its process.
type PeerOption struct {
	Name  string
	Start PeerStarter
}

// ErrOptions is Options that make no plan.
var ErrOptions = errors.New("bad options")

// Check says why o makes no plan (an error wrapping ErrOptions), or nil: seeds or parallel out of
// range, or a Skip that names no group.
func (o Options) Check() error {
	switch {
	case o.Seeds < 2:
		return fmt.Errorf("%w: %d seeds: want at least 2 (a figure's interval is over them)", ErrOptions, o.Seeds)
	case o.BulkSeeds == 1 || o.BulkSeeds < 0:
		return fmt.Errorf("%w: %d bulk seeds: want 0 (no bulk transfers) or at least 2", ErrOptions, o.BulkSeeds)
	case o.Parallel < 1:
		return fmt.Errorf("%w: parallel %d: want at least 1", ErrOptions, o.Parallel)
	}
	for _, g := range o.Skip {
		if !slices.Contains(GroupNames, g) {
			return fmt.Errorf("%w: cannot skip %q: want some of %s", ErrOptions, g, strings.Join(GroupNames, ", "))
		}
	}
	return nil
}

// DefaultPlan is the mode table on loopback and, with o.Hosts, the comparison with TCP; o must pass
// Check.
func DefaultPlan(o Options) (p Plan, err error) {
	if err := o.Check(); err != nil {
		return Plan{}, err
	}
	defer func() {
		p.Groups = slices.DeleteFunc(p.Groups, func(g Group) bool { return slices.Contains(o.Skip, g.Name) })
	}()
	mt := Group{Name: "modes", Parallel: len(Modes) * o.Seeds}
	for _, m := range Modes {
		for s := range o.Seeds {
			mt.Cases = append(mt.Cases, Case{Workload: ModeTableEcho, Transport: KCP(m), Path: Loopback, Link: ModeTableLink, Seed: uint64(s + 1)})
		}
	}
	for _, pe := range o.Peers {
		for _, m := range Modes {
			for s := range o.Seeds {
				mt.Cases = append(mt.Cases, Case{Workload: ModeTableEcho, Transport: KCPPeer(m, pe.Name, pe.Start), Path: Loopback,
					Link: ModeTableLink, Seed: uint64(s + 1)})
			}
		}
	}
	mt.Parallel = len(mt.Cases)
	p.Groups = append(p.Groups, mt)
	if !o.Hosts {
		return p, nil
	}
	versus := []Transport{TCP, KCP(ModeNormal), KCP(ModeFast)}
	ia := Group{Name: "interactive", Parallel: o.Parallel}
	for _, c := range InteractiveConditions {
		for _, t := range versus {
			for s := range o.Seeds {
				ia.Cases = append(ia.Cases, Case{Workload: InteractiveEcho, Transport: t, Path: Hosts, Link: c.Link, Seed: uint64(s + 1)})
			}
		}
	}
	p.Groups = append(p.Groups, ia)
	if o.BulkSeeds > 0 {
		bk := Group{Name: "bulk", Parallel: 2}
		for _, size := range BulkSizes {
			for _, c := range BulkConditions {
				for _, t := range versus {
					for s := range o.BulkSeeds {
						bk.Cases = append(bk.Cases, Case{Workload: Bulk{Bytes: size}, Transport: t, Path: Hosts, Link: c.Link, Seed: uint64(s + 1)})
					}
				}
			}
		}
		p.Groups = append(p.Groups, bk)
	}
	return p, nil
}

// ConditionOf returns the condition whose link the case has, among the interactive or bulk ones.
func ConditionOf(c Case) (Condition, bool) {
	conds := InteractiveConditions
	if _, bulk := c.Workload.(Bulk); bulk {
		conds = BulkConditions
	}
	for _, k := range conds {
		if k.Link == c.Link {
			return k, true
		}
	}
	return Condition{}, false
}
