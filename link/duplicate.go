package link

// Duplicate sends a datagram twice with a probability. The copy goes through the rate limiter and
// the jitter on its own.
type Duplicate struct {
	Probability float64 // in [0, 1]; 0 = no duplicates
}

func (d Duplicate) validate() error { return checkProbability(d.Probability) }
