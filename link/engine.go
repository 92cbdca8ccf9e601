package link

import (
	"math/rand/v2"
	"time"

	"kcplab/internal/dir"
)

// Random streams, one per impairment and direction, so that the k-th decision of an impairment
// depends only on the seed, the direction and k: every datagram consumes the same draws whatever
// happens to it, and enabling one impairment never changes another's decisions.
const (
	streamLoss uint64 = iota + 1
	streamDup
	streamJitter
)

func stream(seed uint64, d dir.Dir, id uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, splitmix64(uint64(d.Index())<<8|id)))
}

// splitmix64 scrambles a small stream id into a well-mixed PCG sequence word.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// engine makes a direction's decisions; it does no I/O and takes the time as an argument, so tests
// can drive it with any clock.
type engine struct {
	cfg      DirConfig
	start    time.Time
	loss     interface{ lost() bool } // nil without loss
	lossFate Fate
	dup      *bernoulli
	jit      *uniformJitter
	bn       *bottleneck
	lastDue  time.Time
}

func newEngine(cfg DirConfig, seed uint64, d dir.Dir, start time.Time) *engine {
	e := &engine{cfg: cfg, start: start, lastDue: start}
	if p := cfg.Loss.Probability; p > 0 {
		rng := stream(seed, d, streamLoss)
		if cfg.Burst.MeanLengthDatagrams > 0 {
			e.loss, e.lossFate = newGilbert(cfg.Burst, p, rng), FateBurst
		} else {
			e.loss, e.lossFate = &bernoulli{p: p, rng: rng}, FateLoss
		}
	}
	if p := cfg.Duplicate.Probability; p > 0 {
		e.dup = &bernoulli{p: p, rng: stream(seed, d, streamDup)}
	}
	if a := cfg.Jitter.Amplitude; a > 0 {
		e.jit = &uniformJitter{amp: int64(a), rng: stream(seed, d, streamJitter)}
	}
	if cfg.Rate.BytesPerSecond > 0 {
		e.bn = newBottleneck(cfg.Rate)
	}
	return e
}

// plan is the engine's decision for one datagram.
type plan struct {
	fate   Fate         // FatePending if the datagram goes on, else the reason it was dropped
	copies int          // copies made: 0, 1 or 2
	cfate  [2]Fate      // per copy: FatePending, or FateQueueFull
	due    [2]time.Time // per copy: when it is to be written to the socket
}

// decide plans the fate of datagram i of size bytes written at now.
func (e *engine) decide(i uint64, now time.Time, size int) plan {
	var p plan
	// Draw first, whatever the datagram's fate.
	lost := e.loss != nil && e.loss.lost()
	dup := e.dup != nil && e.dup.draw()
	var off [2]time.Duration
	if e.jit != nil {
		off[0], off[1] = e.jit.offset(), e.jit.offset()
	}
	switch {
	case len(e.cfg.DropList.Ranges) > 0 && e.cfg.DropList.Contains(i):
		p.fate = FateDropList
	case len(e.cfg.Blackholes) > 0 && inBlackhole(e.cfg.Blackholes, now.Sub(e.start)):
		p.fate = FateBlackhole
	case lost:
		p.fate = e.lossFate
	}
	if p.fate != FatePending {
		return p
	}
	p.copies = 1
	if dup {
		p.copies = 2
	}
	for k := range p.copies {
		depart := now
		if e.bn != nil {
			d, ok := e.bn.admit(now, size)
			if !ok {
				p.cfate[k] = FateQueueFull
				continue
			}
			depart = d
		}
		due := depart.Add(max(e.cfg.Delay.Latency+off[k], 0))
		if !e.cfg.Jitter.Reorder && due.Before(e.lastDue) {
			due = e.lastDue
		}
		if due.After(e.lastDue) {
			e.lastDue = due
		}
		p.due[k] = due
	}
	return p
}
