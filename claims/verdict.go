package claims

import (
	"fmt"
	"strings"

	"kcplab/internal/tolerance"
)

// Verdict is how a measured figure stands against a published one.
type Verdict int

// The verdicts.
const (
	// Inconclusive: the interval straddles the published figure's bound.
	Inconclusive Verdict = iota
	// Holds: the whole interval is on the claim's side of its bound.
	Holds
	// DoesNotHold: the whole interval is on the other side.
	DoesNotHold
)

// String names the verdict.
func (v Verdict) String() string {
	return [...]string{"inconclusive", "holds", "does not hold"}[v]
}

// Published is the mode table of test.cpp (KCP's README): average and maximum RTT in ms per mode.
var Published = map[string][2]float64{"default": {740, 1507}, "normal": {156, 571}, "fast": {138, 392}}

// ModeCheck is one mode's measured RTTs beside test.cpp's.
type ModeCheck struct {
	Mode         string
	Figures      *Figures
	PublishedAvg float64
	PublishedMax float64
	// Avg and Max place the measured interval against the published figure (within): Holds when the
	// whole interval lies in its band, DoesNotHold when it lies wholly outside.
	Avg, Max Verdict
}

// Verdict is the mode's: Holds (reproduced) when both figures hold, DoesNotHold when either does
// not, Inconclusive otherwise.
func (m ModeCheck) Verdict() Verdict {
	switch {
	case m.Avg == Holds && m.Max == Holds:
		return Holds
	case m.Avg == DoesNotHold || m.Max == DoesNotHold:
		return DoesNotHold
	}
	return Inconclusive
}

// within is an equivalence test: the interval against the band published ± max(4 ms, 12.5%),
// kcplab's timing tolerance. test.cpp's figures are one run of its own random link, so equality is not
// the test; an interval inside the band is. More seeds narrow the interval and so make the verdict
// more decisive, never less. No seed is no verdict.
func within(v Interval, published float64) Verdict {
	tol := tolerance.Ms(published)
	lo, hi := published-tol, published+tol
	switch {
	case v.N == 0:
		return Inconclusive
	case v.Lo >= lo && v.Hi <= hi:
		return Holds
	case v.Hi < lo || v.Lo > hi:
		return DoesNotHold
	}
	return Inconclusive
}

// ModeTable compares the mode-table figures (the loopback echoes of ModeTableEcho) with test.cpp's.
func ModeTable(figs []*Figures) []ModeCheck {
	var out []ModeCheck
	for _, f := range figs {
		c := f.Case
		if c.Transport.TCP || c.Path != Loopback || c.Link != ModeTableLink || c.Workload != Workload(ModeTableEcho) {
			continue
		}
		pub, ok := Published[c.Transport.Mode.Name]
		if !ok {
			continue
		}
		out = append(out, ModeCheck{Mode: c.Transport.Mode.Name, Figures: f, PublishedAvg: pub[0], PublishedMax: pub[1],
			Avg: within(f.Avg, pub[0]), Max: within(f.Max, pub[1])})
	}
	return out
}

// Claim is one part of the README's sentence.
type Claim struct {
	Name  string // "average latency"
	Text  string // "30-40% lower than TCP"
	Unit  string // how Compare's values read: "% lower", "x lower", "% more"
	Bound float64
	// AtLeast: the claim holds when the value is at least Bound (else at most).
	AtLeast bool
	// Of computes the claimed quantity for one seed from TCP's and KCP's figures on that seed.
	Of func(tcp, kcp Seed) float64
	// Bulk: the claim is judged on the bulk workloads (else on the interactive one).
	Bulk bool
}

// Claims are the README's sentence, part by part: "at the cost of 10-20% more bandwidth than TCP,
// 30-40% lower average latency and 3x lower maximum latency".
var Claims = []Claim{
	{Name: "average latency", Text: "30-40% lower than TCP", Unit: "% lower", Bound: 30, AtLeast: true,
		Of: func(t, k Seed) float64 { return 100 * (1 - k.Avg/t.Avg) }},
	{Name: "maximum latency", Text: "3x lower than TCP", Unit: "x lower", Bound: 3, AtLeast: true,
		Of: func(t, k Seed) float64 { return t.Max / k.Max }},
	{Name: "bandwidth, interactive", Text: "10-20% more than TCP (at most 20%)", Unit: "% more", Bound: 20,
		Of: func(t, k Seed) float64 { return 100 * (k.Overhead/t.Overhead - 1) }},
	{Name: "bandwidth, bulk", Text: "10-20% more than TCP (at most 20%)", Unit: "% more", Bound: 20, Bulk: true,
		Of: func(t, k Seed) float64 { return 100 * (k.Overhead/t.Overhead - 1) }},
	{Name: "completion time, bulk", Text: "not claimed; here: no slower than TCP", Unit: "x TCP's", Bound: 1,
		Bulk: true, Of: func(t, k Seed) float64 { return k.Complete / t.Complete }},
}

// Comparison is a claim judged on one condition for one KCP mode.
type Comparison struct {
	Claim     Claim
	Mode      string
	Workload  string
	Condition Condition
	Value     Interval // over the seeds both transports completed
	Verdict   Verdict
}

// judge places an interval against the claim's bound.
func (c Claim) judge(v Interval) Verdict {
	if !c.AtLeast {
		switch {
		case v.Hi <= c.Bound:
			return Holds
		case v.Lo > c.Bound:
			return DoesNotHold
		}
		return Inconclusive
	}
	switch {
	case v.Lo >= c.Bound:
		return Holds
	case v.Hi < c.Bound:
		return DoesNotHold
	}
	return Inconclusive
}

// Compare judges every claim on every condition where TCP and a KCP mode ran the same workload on
// the same link, pairing their figures seed by seed.
func Compare(figs []*Figures) []Comparison {
	tcp := map[string]*Figures{}
	for _, f := range figs {
		if f.Case.Transport.TCP && f.Case.Path == Hosts {
			tcp[f.Case.Workload.Name()+"|"+f.Case.Link] = f
		}
	}
	var out []Comparison
	for _, cl := range Claims {
		for _, f := range figs {
			c := f.Case
			_, bulk := c.Workload.(Bulk)
			if c.Transport.TCP || c.Path != Hosts || bulk != cl.Bulk {
				continue
			}
			t := tcp[c.Workload.Name()+"|"+c.Link]
			cond, ok := ConditionOf(c)
			if t == nil || !ok {
				continue
			}
			var vs []float64
			for seed, ks := range f.PerSeed {
				if ts, ok := t.PerSeed[seed]; ok {
					vs = append(vs, cl.Of(ts, ks))
				}
			}
			iv := IntervalOf(vs)
			out = append(out, Comparison{Claim: cl, Mode: c.Transport.Mode.Name, Workload: c.Workload.Name(), Condition: cond, Value: iv, Verdict: cl.judge(iv)})
		}
	}
	return out
}

// Overall sums up one claim for one mode over its conditions: "holds" when it holds on every one,
// "holds only under these conditions: ..." when on some, "does not hold" when on none.
func Overall(cs []Comparison) string {
	var holds, not, inc []string
	for _, c := range cs {
		name := c.Condition.Name
		if c.Claim.Bulk {
			name = c.Workload + " " + name
		}
		switch c.Verdict {
		case Holds:
			holds = append(holds, name)
		case DoesNotHold:
			not = append(not, name)
		default:
			inc = append(inc, name)
		}
	}
	var s string
	switch {
	case len(cs) == 0:
		return "not measured"
	case len(holds) == len(cs):
		s = "holds"
	case len(holds) > 0:
		s = "holds only under these conditions: " + strings.Join(holds, ", ")
	default:
		s = "does not hold"
	}
	if len(inc) > 0 {
		s += fmt.Sprintf(" (inconclusive: %s)", strings.Join(inc, ", "))
	}
	return s
}

// TCPFloor checks what TCP must do: at 10% loss, some message waits for a retransmission timeout, so
// TCP's maximum RTT is at least Linux's minimum RTO (200 ms) plus the path's RTT. It returns, for
// each condition with 10% loss, the seeds that meet it and the seeds measured.
func TCPFloor(figs []*Figures) (met, of int, conds []string) {
	for _, f := range figs {
		c := f.Case
		cond, ok := ConditionOf(c)
		if !c.Transport.TCP || !ok || cond.LossPct != 10 {
			continue
		}
		if _, bulk := c.Workload.(Bulk); bulk {
			continue
		}
		conds = append(conds, cond.Name)
		floor := 200 + 2*cond.DelayMs
		for _, s := range f.PerSeed {
			of++
			if s.Max >= floor {
				met++
			}
		}
	}
	return met, of, conds
}
