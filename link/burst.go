package link

import (
	"fmt"
	"math/rand/v2"
)

// Burst makes the direction's losses come in bursts: a Gilbert model (a Gilbert-Elliott model
// whose good state loses nothing and whose bad state loses everything) with the direction's
// Loss.Probability as its mean loss. A burst (a run of consecutive losses) has a geometric
// length with the configured mean.
type Burst struct {
	MeanLengthDatagrams float64 // mean number of datagrams in a burst, >= 1; 0 = independent losses
}

func (b Burst) validate(l Loss) error {
	n := b.MeanLengthDatagrams
	if n == 0 {
		return nil
	}
	if !(n >= 1) || n > 1e12 {
		return fmt.Errorf("mean burst length %v: want a number of datagrams >= 1", n)
	}
	if l.Probability == 0 {
		return fmt.Errorf("burst needs loss (the mean loss rate of the bursts)")
	}
	if l.Probability < 1 && l.Probability > n/(n+1) {
		return fmt.Errorf("loss %s cannot be reached with bursts of mean length %v: want loss <= %s",
			formatProbability(l.Probability), n, formatProbability(n/(n+1)))
	}
	return nil
}

// transitions returns the probability of entering the bad state from the good one and of leaving
// it: leaving has probability 1/n (geometric bursts of mean n) and the stationary share of the bad
// state, enter/(enter+leave), is the mean loss p.
func (b Burst) transitions(p float64) (enter, leave float64) {
	leave = 1 / b.MeanLengthDatagrams
	if p >= 1 {
		return 1, 0
	}
	return p * leave / (1 - p), leave
}

// gilbert decides bursty losses: one draw per datagram.
type gilbert struct {
	enter, leave float64
	bad          bool
	rng          *rand.Rand
}

func newGilbert(b Burst, p float64, rng *rand.Rand) *gilbert {
	g := &gilbert{rng: rng}
	g.enter, g.leave = b.transitions(p)
	g.bad = rng.Float64() < p // start in the stationary distribution
	return g
}

// lost moves the chain one step and reports whether the datagram is lost (the bad state).
func (g *gilbert) lost() bool {
	u := g.rng.Float64()
	if g.bad {
		g.bad = !(u < g.leave)
	} else {
		g.bad = u < g.enter
	}
	return g.bad
}
