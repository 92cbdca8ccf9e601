package link

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"kcplab/internal/dir"
)

// Decision tests: they drive a direction's engine with a synthetic clock, so 100,000 decisions
// take milliseconds and do not depend on the machine's load.

const decisions = 100_000

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func engineFor(t *testing.T, spec string, seed uint64) *engine {
	t.Helper()
	cfg, err := Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return newEngine(cfg.C2S, seed, dir.C2S, t0)
}

// z95 and z999 are the two-sided normal quantiles of the 95% and 99.9% intervals.
const (
	z95  = 1.959964
	z999 = 3.290527
)

// interval returns mean ± z·sd.
func interval(mean, sd, z float64) (lo, hi float64) { return mean - z*sd, mean + z*sd }

// checkCount asserts a count within its 99.9% interval and reports whether it is within its 95%.
func checkCount(t *testing.T, what string, got, mean, sd float64) (in95 bool) {
	t.Helper()
	lo, hi := interval(mean, sd, z95)
	lo3, hi3 := interval(mean, sd, z999)
	if got < lo3 || got > hi3 {
		t.Errorf("%s: %.0f, outside the 99.9%% interval [%.0f, %.0f]", what, got, lo3, hi3)
	}
	return got >= lo && got <= hi
}

// coverageSeeds is how many seeds a coverage test runs (100,000 decisions each).
const coverageSeeds = 20

// checkCoverage asserts that about 95% of the seeds' counts fall within their 95% interval (and
// all within 99.9%): the counts are distributed as the model says, not merely close on one seed.
// P(fewer than 16 of 20 inside) is 0.3% for a correct generator.
func checkCoverage(t *testing.T, what string, count func(seed uint64) (got, mean, sd float64)) {
	t.Helper()
	if raceEnabled {
		t.Skip("2,000,000 decisions: run without -race (the logic is single-threaded and the same)")
	}
	inside := 0
	for s := range uint64(coverageSeeds) {
		got, mean, sd := count(1000 + s)
		if checkCount(t, fmt.Sprintf("%s, seed %d", what, 1000+s), got, mean, sd) {
			inside++
		}
	}
	t.Logf("%s: %d of %d seeds inside their 95%% interval", what, inside, coverageSeeds)
	if inside < 16 {
		t.Errorf("%s: only %d of %d seeds inside their 95%% interval", what, inside, coverageSeeds)
	}
}

func countFates(e *engine, n int) (fates map[Fate]int, seq []Fate) {
	fates = map[Fate]int{}
	seq = make([]Fate, n)
	for i := range n {
		p := e.decide(uint64(i), t0, 100)
		f := p.fate
		if p.copies > 0 {
			f = FateDelivered
		}
		fates[f]++
		seq[i] = f
	}
	return fates, seq
}

// TestLossRate: the number of losses over 100,000 datagrams is binomial. Each case holds seed 1 to
// the 99.9% interval (a fixed seed outside its 95% interval is a 1-in-20 event, not a bug) and
// logs the 95% interval; the coverage cases check that about 95% of seeds fall inside it.
func TestLossRate(t *testing.T) {
	t.Parallel()
	lossCount := func(p float64) func(seed uint64) (float64, float64, float64) {
		return func(seed uint64) (float64, float64, float64) {
			fates, _ := countFates(engineFor(t, "loss="+fmt.Sprint(p), seed), decisions)
			return float64(fates[FateLoss]), decisions * p, math.Sqrt(decisions * p * (1 - p))
		}
	}
	for _, p := range []float64{0.001, 0.01, 0.1, 0.3, 0.5, 0.9} {
		t.Run(fmt.Sprint(p), func(t *testing.T) {
			t.Parallel()
			got, mean, sd := lossCount(p)(1)
			lo, hi := interval(mean, sd, z95)
			in95 := checkCount(t, "lost", got, mean, sd)
			t.Logf("loss=%v: %.0f of %d lost (%.3f%%), 95%% interval [%.0f, %.0f], inside: %v", p, got, decisions, 100*got/decisions, lo, hi, in95)
		})
	}
	for _, p := range []float64{0.01, 0.1} {
		t.Run(fmt.Sprintf("coverage/%v", p), func(t *testing.T) {
			t.Parallel()
			checkCoverage(t, fmt.Sprintf("loss=%v", p), lossCount(p))
		})
	}
}

// runs returns the lengths of the runs of fate f.
func runs(seq []Fate, f Fate) []int {
	var out []int
	n := 0
	for _, x := range seq {
		if x == f {
			n++
			continue
		}
		if n > 0 {
			out = append(out, n)
			n = 0
		}
	}
	if n > 0 {
		out = append(out, n)
	}
	return out
}

// burstStats runs 100,000 decisions of a Gilbert model and returns the total length of the
// bursts, the number of bursts and the losses, with the means and standard deviations the model
// gives them.
func burstStats(t *testing.T, p, n float64, seed uint64) (bursts []int, lost, lossMean, lossSD float64) {
	e := engineFor(t, fmt.Sprintf("loss=%v,burst=%v", p, n), seed)
	fates, seq := countFates(e, decisions)
	if fates[FateLoss] != 0 {
		t.Fatalf("%d losses labelled loss, want burst", fates[FateLoss])
	}
	// A two-state chain's indicator has lag-k correlation rho^k with rho = 1 - enter - leave, so the
	// variance of the loss count is n p(1-p)(1+rho)/(1-rho).
	enter, leave := Burst{n}.transitions(p)
	rho := 1 - enter - leave
	return runs(seq, FateBurst), float64(fates[FateBurst]), decisions * p, math.Sqrt(decisions * p * (1 - p) * (1 + rho) / (1 - rho))
}

// burstLengthStats returns the total length of the bursts and its mean and standard deviation
// given their number: bursts are geometric with leave = 1/n, variance (1-leave)/leave².
func burstLengthStats(bursts []int, n float64) (total, mean, sd float64) {
	for _, b := range bursts {
		total += float64(b)
	}
	leave := 1 / n
	k := float64(len(bursts))
	return total, k * n, math.Sqrt(k*(1-leave)) / leave
}

// TestBurstLoss: the Gilbert model gives bursts of the configured mean length and the configured
// mean loss (whose interval allows for the chain's correlation); seeds as in TestLossRate.
func TestBurstLoss(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ p, n float64 }{{0.1, 4}, {0.05, 1}, {0.01, 2}, {0.3, 10}, {0.2, 1.5}} {
		t.Run(fmt.Sprintf("loss=%v,burst=%v", tc.p, tc.n), func(t *testing.T) {
			t.Parallel()
			bursts, lost, lossMean, lossSD := burstStats(t, tc.p, tc.n, 1)
			total, lenMean, lenSD := burstLengthStats(bursts, tc.n)
			k := float64(len(bursts))
			in95 := checkCount(t, "total burst length", total, lenMean, lenSD)
			lo, hi := interval(tc.n, lenSD/k, z95)
			t.Logf("%d bursts, mean length %.3f, 95%% interval [%.3f, %.3f], inside: %v", len(bursts), total/k, lo, hi, in95)
			in95 = checkCount(t, "lost", lost, lossMean, lossSD)
			lo, hi = interval(lossMean, lossSD, z95)
			t.Logf("%.0f lost (%.3f%%), 95%% interval [%.0f, %.0f], inside: %v", lost, 100*lost/decisions, lo, hi, in95)
		})
	}
	t.Run("coverage/length", func(t *testing.T) {
		t.Parallel()
		checkCoverage(t, "loss=10%,burst=4: burst length", func(seed uint64) (float64, float64, float64) {
			bursts, _, _, _ := burstStats(t, 0.1, 4, seed)
			return burstLengthStats(bursts, 4)
		})
	})
	t.Run("coverage/loss", func(t *testing.T) {
		t.Parallel()
		checkCoverage(t, "loss=10%,burst=4: lost", func(seed uint64) (float64, float64, float64) {
			_, lost, mean, sd := burstStats(t, 0.1, 4, seed)
			return lost, mean, sd
		})
	})
}

// TestDuplicateRate: the number of duplicates is binomial; seeds as in TestLossRate.
func TestDuplicateRate(t *testing.T) {
	t.Parallel()
	dupCount := func(p float64) func(seed uint64) (float64, float64, float64) {
		return func(seed uint64) (float64, float64, float64) {
			e := engineFor(t, "dup="+fmt.Sprint(p), seed)
			dups := 0
			for i := range decisions {
				if pl := e.decide(uint64(i), t0, 100); pl.copies == 2 {
					dups++
				}
			}
			return float64(dups), decisions * p, math.Sqrt(decisions * p * (1 - p))
		}
	}
	for _, p := range []float64{0.01, 0.1, 0.5} {
		t.Run(fmt.Sprint(p), func(t *testing.T) {
			t.Parallel()
			got, mean, sd := dupCount(p)(1)
			lo, hi := interval(mean, sd, z95)
			in95 := checkCount(t, "duplicated", got, mean, sd)
			t.Logf("dup=%v: %.0f of %d duplicated, 95%% interval [%.0f, %.0f], inside: %v", p, got, decisions, lo, hi, in95)
		})
	}
	t.Run("coverage/0.01", func(t *testing.T) {
		t.Parallel()
		checkCoverage(t, "dup=0.01", dupCount(0.01))
	})
}

func TestDropListExact(t *testing.T) {
	t.Parallel()
	for _, spec := range []string{"drop=0+3+7-9+99999", "drop=0+3+7-9+99999,loss=50%", "drop=5-20,dup=50%,delay=1ms"} {
		t.Run(spec, func(t *testing.T) {
			t.Parallel()
			cfg := MustParse(spec)
			_, seq := countFates(engineFor(t, spec, 1), decisions)
			for i, f := range seq {
				listed := cfg.C2S.DropList.Contains(uint64(i))
				if listed != (f == FateDropList) {
					t.Fatalf("datagram %d: fate %v, listed %v", i, f, listed)
				}
			}
		})
	}
}

func TestBlackholeExact(t *testing.T) {
	t.Parallel()
	e := engineFor(t, "blackhole=1s..2s+5s..", 1)
	for i := range 1000 {
		at := time.Duration(i) * 10 * time.Millisecond
		p := e.decide(uint64(i), t0.Add(at), 100)
		want := (at >= time.Second && at < 2*time.Second) || at >= 5*time.Second
		if (p.fate == FateBlackhole) != want {
			t.Fatalf("sent at %v: fate %v, in a window %v", at, p.fate, want)
		}
	}
	// Just before and at the edges.
	for _, tc := range []struct {
		at   time.Duration
		dead bool
	}{{time.Second - 1, false}, {time.Second, true}, {2*time.Second - 1, true}, {2 * time.Second, false}, {5*time.Second - 1, false}, {time.Hour, true}} {
		if p := e.decide(0, t0.Add(tc.at), 1); (p.fate == FateBlackhole) != tc.dead {
			t.Errorf("sent at %v: fate %v, want dead %v", tc.at, p.fate, tc.dead)
		}
	}
}

// ksUniform returns the Kolmogorov-Smirnov statistic of xs against the uniform law on [lo, hi].
func ksUniform(xs []float64, lo, hi float64) float64 {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	n := float64(len(xs))
	d := 0.0
	for i, x := range xs {
		f := math.Min(math.Max((x-lo)/(hi-lo), 0), 1)
		d = math.Max(d, math.Max(f-float64(i)/n, float64(i+1)/n-f))
	}
	return d
}

// TestJitterSchedule checks the planned delays: uniform on [delay-jitter, delay+jitter] with
// reordering allowed, never negative, and in order without reordering.
func TestJitterSchedule(t *testing.T) {
	t.Parallel()
	t.Run("uniform", func(t *testing.T) {
		t.Parallel()
		e := engineFor(t, "delay=50ms,jitter=20ms,reorder=true", 1)
		xs := make([]float64, decisions)
		for i := range decisions {
			now := t0.Add(time.Duration(i) * time.Millisecond)
			xs[i] = float64(e.decide(uint64(i), now, 100).due[0].Sub(now))
		}
		lo, hi := float64(30*time.Millisecond), float64(70*time.Millisecond)
		if mn, mx := slices.Min(xs), slices.Max(xs); mn < lo || mx > hi {
			t.Fatalf("planned delays in [%v, %v], want within [30ms, 70ms]", time.Duration(mn), time.Duration(mx))
		}
		d := ksUniform(xs, lo, hi)
		crit := 1.358 / math.Sqrt(decisions) // 95%
		t.Logf("KS distance to uniform[30ms, 70ms]: %.5f (95%% critical value %.5f)", d, crit)
		if d > crit {
			t.Errorf("planned delays not uniform: KS %.5f > %.5f", d, crit)
		}
	})
	t.Run("clamped", func(t *testing.T) {
		t.Parallel()
		e := engineFor(t, "delay=5ms,jitter=20ms,reorder=true", 1)
		zero := 0
		for i := range decisions {
			d := e.decide(uint64(i), t0, 100).due[0].Sub(t0)
			if d < 0 || d > 25*time.Millisecond {
				t.Fatalf("planned delay %v outside [0, 25ms]", d)
			}
			if d == 0 {
				zero++
			}
		}
		t.Logf("%d of %d clamped to zero (expect about %d)", zero, decisions, decisions*15/41)
	})
	t.Run("order kept", func(t *testing.T) {
		t.Parallel()
		e := engineFor(t, "delay=50ms,jitter=20ms,dup=10%", 1)
		var last time.Time
		for i := range decisions {
			p := e.decide(uint64(i), t0.Add(time.Duration(i)*100*time.Microsecond), 100)
			for k := range p.copies {
				if p.due[k].Before(last) {
					t.Fatalf("datagram %d copy %d due %v before its predecessor's %v", i, k, p.due[k], last)
				}
				last = p.due[k]
			}
		}
	})
}

// TestRateSchedule checks the bottleneck: departures spaced size/rate apart, tail drop when the
// queue is full (in datagrams and in bytes), and room again as the queue drains.
func TestRateSchedule(t *testing.T) {
	t.Parallel()
	t.Run("spacing", func(t *testing.T) {
		t.Parallel()
		e := engineFor(t, "rate=8mbit", 1) // 1 MB/s: 1000 B take 1 ms
		for i := range 500 {
			p := e.decide(uint64(i), t0, 1000)
			if want := t0.Add(time.Duration(i+1) * time.Millisecond); p.cfate[0] != FatePending || !p.due[0].Equal(want) {
				t.Fatalf("datagram %d: %v due +%v, want pending due +%v", i, p.cfate[0], p.due[0].Sub(t0), want.Sub(t0))
			}
		}
	})
	for _, tc := range []struct {
		spec string
		room int
	}{{"rate=8mbit,queue=10pkt", 10}, {"rate=8mbit,queue=5kB", 5}, {"rate=8mbit,queue=5500B", 5}, {"rate=8mbit", DefaultQueuePackets}} {
		t.Run(tc.spec, func(t *testing.T) {
			t.Parallel()
			e := engineFor(t, tc.spec, 1)
			admitted := 0
			for i := range tc.room + 20 {
				if p := e.decide(uint64(i), t0, 1000); p.cfate[0] == FatePending {
					admitted++
				} else if p.cfate[0] != FateQueueFull {
					t.Fatalf("fate %v", p.cfate[0])
				}
			}
			if admitted != tc.room {
				t.Fatalf("%d admitted at once, want %d", admitted, tc.room)
			}
			// 3.5 ms later three datagrams have left: exactly three more fit.
			admitted = 0
			for i := range 10 {
				if p := e.decide(uint64(i), t0.Add(3500*time.Microsecond), 1000); p.cfate[0] == FatePending {
					admitted++
				}
			}
			if admitted != 3 {
				t.Fatalf("%d admitted after 3.5 ms, want 3", admitted)
			}
		})
	}
}

// requireSeeded checks that run repeats itself for a seed and gives another run for another seed, and
// returns the run of seed 1.
func requireSeeded[T comparable](t *testing.T, what string, run func(seed uint64) []T) []T {
	t.Helper()
	a := run(1)
	if !slices.Equal(a, run(1)) {
		t.Fatalf("%s: same seed, same sends, different runs", what)
	}
	if slices.Equal(a, run(2)) {
		t.Fatalf("%s: different seeds, same runs", what)
	}
	return a
}

// TestDeterminism: the same seed and sends give the same plans; another seed does not; enabling
// other impairments does not change the loss decisions.
func TestDeterminism(t *testing.T) {
	t.Parallel()
	plansOf := func(spec string) func(seed uint64) []plan {
		return func(seed uint64) []plan {
			e := engineFor(t, spec, seed)
			out := make([]plan, 20_000)
			for i := range out {
				out[i] = e.decide(uint64(i), t0.Add(time.Duration(i)*100*time.Microsecond), 100+i%1300)
			}
			return out
		}
	}
	requireSeeded(t, "plans", plansOf("loss=10%,burst=3,dup=5%,delay=10ms,jitter=5ms,reorder=true,rate=10mbit,queue=20pkt,drop=5-9,blackhole=1s..1100ms"))
	lossOnly, full := plansOf("loss=10%,burst=3")(42), plansOf("loss=10%,burst=3,dup=50%,jitter=5ms,reorder=true")(42)
	for i := range lossOnly {
		if (lossOnly[i].fate == FateBurst) != (full[i].fate == FateBurst) {
			t.Fatalf("datagram %d: loss decision changed by other impairments", i)
		}
	}
}
