package claims

import (
	"encoding/json"
	"math"
	"os"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"

	"kcplab/internal/quantile"
)

// Interval is a figure over seeds: the mean of the per-seed values and its 95% confidence interval
// (Student's t; with one seed, the value alone).
type Interval struct {
	Mean float64 `json:"mean"`
	Lo   float64 `json:"lo"`
	Hi   float64 `json:"hi"`
	N    int     `json:"n"`
}

// IntervalOf returns the interval of the values (one per seed).
func IntervalOf(vs []float64) Interval {
	n := len(vs)
	if n == 0 {
		return Interval{}
	}
	var sum float64
	for _, v := range vs {
		sum += v
	}
	mean := sum / float64(n)
	if n == 1 {
		return Interval{mean, mean, mean, 1}
	}
	var ss float64
	for _, v := range vs {
		ss += (v - mean) * (v - mean)
	}
	se := math.Sqrt(ss/float64(n-1)) / math.Sqrt(float64(n))
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}.Quantile(0.975)
	return Interval{mean, mean - t*se, mean + t*se, n}
}

// Figures are one case key's figures over its seeds.
type Figures struct {
	Key      string
	Case     Case // the first seed's case
	Seeds    int
	Failed   int      // seeds whose case failed a check (left out of the figures)
	Errors   []string // their errors
	Avg      Interval // Echo: RTT in ms
	Median   Interval
	P99      Interval
	Max      Interval
	Complete Interval // Bulk: seconds
	Overhead Interval // wire bytes per application byte
	PerMsg   Interval // Echo: wire bytes per message (both ways)
	// Again, AfterDelivered and Spurious are the data segments sent again, those of them sent after
	// the link had delivered an earlier copy, and (KCP's only) those an ACK showed spurious, in % of
	// the data segments sent (Retrans).
	Again, AfterDelivered, Spurious Interval

	TCP       *TCPInfo
	MinRTO    bool      // the mode's minimum RTO applied
	RTTs      []float64 // every seed's RTTs in ms, sorted (the CDF)
	PerSeed   map[uint64]Seed
	Drops     [2]uint64 // summed over seeds
	Packets   int64
	WireBytes int64
}

// Seed is one seed's figures, for pairing transports on the same link seed.
type Seed struct {
	Avg, Max, Complete, Overhead float64
}

// Aggregate groups results by key, in the order the keys first appear, and computes their figures.
func Aggregate(results []Result) []*Figures {
	var order []string
	by := map[string][]Result{}
	for _, r := range results {
		k := r.Case.Key()
		if _, ok := by[k]; !ok {
			order = append(order, k)
		}
		by[k] = append(by[k], r)
	}
	out := make([]*Figures, 0, len(order))
	for _, k := range order {
		out = append(out, figuresOf(k, by[k]))
	}
	return out
}

func figuresOf(key string, rs []Result) *Figures {
	f := &Figures{Key: key, Case: rs[0].Case, Seeds: len(rs), PerSeed: map[uint64]Seed{}, MinRTO: true}
	var avg, med, p99, mx, comp, over, perMsg, again, afterDelivered, spurious []float64
	for _, r := range rs {
		f.MinRTO = f.MinRTO && r.MinRTOApplied
		if r.TCP != nil {
			f.TCP = r.TCP
		}
		if r.Err != nil {
			f.Failed++
			f.Errors = append(f.Errors, r.Err.Error())
			continue
		}
		f.Drops[0] += r.Drops[0]
		f.Drops[1] += r.Drops[1]
		f.Packets += r.Packets
		f.WireBytes += r.WireBytes
		s := Seed{Overhead: float64(r.WireBytes) / float64(r.Case.Workload.AppBytes())}
		over = append(over, s.Overhead)
		if rt := r.Retrans; rt.Segments > 0 {
			pct := func(n int) float64 { return 100 * float64(n) / float64(rt.Segments) }
			again, afterDelivered = append(again, pct(rt.Again)), append(afterDelivered, pct(rt.AfterDelivered))
			if !r.Case.Transport.TCP {
				spurious = append(spurious, pct(rt.Spurious))
			}
		}
		if e, ok := r.Case.Workload.(Echo); ok {
			ms := make([]float64, len(r.Measured.RTTs))
			for i, d := range r.Measured.RTTs {
				ms[i] = float64(d.Microseconds()) / 1000
			}
			f.RTTs = append(f.RTTs, ms...)
			slices.Sort(ms)
			var sum float64
			for _, v := range ms {
				sum += v
			}
			s.Avg, s.Max = sum/float64(len(ms)), ms[len(ms)-1]
			avg, mx = append(avg, s.Avg), append(mx, s.Max)
			med = append(med, quantile.Of(ms, 0.5))
			p99 = append(p99, quantile.Of(ms, 0.99))
			perMsg = append(perMsg, float64(r.WireBytes)/float64(e.Count))
		} else {
			s.Complete = r.Measured.Complete.Seconds()
			comp = append(comp, s.Complete)
		}
		f.PerSeed[r.Case.Seed] = s
	}
	slices.Sort(f.RTTs)
	f.Avg, f.Median, f.P99, f.Max = IntervalOf(avg), IntervalOf(med), IntervalOf(p99), IntervalOf(mx)
	f.Complete, f.Overhead, f.PerMsg = IntervalOf(comp), IntervalOf(over), IntervalOf(perMsg)
	f.Again, f.AfterDelivered, f.Spurious = IntervalOf(again), IntervalOf(afterDelivered), IntervalOf(spurious)
	return f
}

// WriteFigures writes figs as indented JSON (claims.json) to path.
func WriteFigures(path string, figs []*Figures) error {
	b, err := json.MarshalIndent(figs, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
