package link

import "math/rand/v2"

// Loss drops each datagram independently with a probability (or, with Burst, in bursts whose
// mean loss is this probability).
type Loss struct {
	Probability float64 // in [0, 1]; 0 = no loss
}

func (l Loss) validate() error { return checkProbability(l.Probability) }

// bernoulli decides independent events of one probability, a loss or a duplicate: one draw per datagram.
type bernoulli struct {
	p   float64
	rng *rand.Rand
}

func (b *bernoulli) draw() bool { return b.rng.Float64() < b.p }

func (b *bernoulli) lost() bool { return b.draw() }
