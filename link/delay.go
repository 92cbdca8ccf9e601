package link

import (
	"fmt"
	"time"
)

// Delay adds a fixed one-way latency to every datagram.
type Delay struct {
	Latency time.Duration // >= 0
}

func (d Delay) validate() error {
	if d.Latency < 0 {
		return fmt.Errorf("delay %v is negative", d.Latency)
	}
	return nil
}
