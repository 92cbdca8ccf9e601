package link

import (
	"fmt"
	"math"
	"slices"

	"kcplab/internal/dir"
)

// Config holds the impairments of both directions.
type Config struct {
	C2S DirConfig // what the client sends
	S2C DirConfig // what the server sends
}

// DirConfig holds the impairments of one direction. The zero value is a perfect link.
type DirConfig struct {
	Loss       Loss
	Burst      Burst
	DropList   DropList
	Delay      Delay
	Jitter     Jitter
	Duplicate  Duplicate
	Rate       Rate
	Blackholes []Blackhole
}

// Dir returns the impairments of direction d.
func (c Config) Dir(d dir.Dir) DirConfig {
	if d == dir.S2C {
		return c.S2C
	}
	return c.C2S
}

// dir returns a pointer to the impairments of direction d.
func (c *Config) dir(d dir.Dir) *DirConfig {
	if d == dir.S2C {
		return &c.S2C
	}
	return &c.C2S
}

// IsZero reports whether neither direction has an impairment.
func (c Config) IsZero() bool { return c.C2S.IsZero() && c.S2C.IsZero() }

// IsZero reports whether the direction has no impairment (a pass-through).
func (d DirConfig) IsZero() bool {
	return d.Loss == Loss{} && d.Burst == Burst{} && len(d.DropList.Ranges) == 0 && d.Delay == Delay{} &&
		d.Jitter == Jitter{} && d.Duplicate == Duplicate{} && d.Rate == Rate{} && len(d.Blackholes) == 0
}

// Equal reports whether two direction configs are the same.
func (d DirConfig) Equal(o DirConfig) bool {
	return d.Loss == o.Loss && d.Burst == o.Burst && slices.Equal(d.DropList.Ranges, o.DropList.Ranges) &&
		d.Delay == o.Delay && d.Jitter == o.Jitter && d.Duplicate == o.Duplicate && d.Rate == o.Rate &&
		slices.Equal(d.Blackholes, o.Blackholes)
}

// Equal reports whether two configs are the same.
func (c Config) Equal(o Config) bool { return c.C2S.Equal(o.C2S) && c.S2C.Equal(o.S2C) }

// Validate checks both directions; the error names the direction and the key at fault.
func (c Config) Validate() error {
	for _, d := range dir.Both {
		if err := c.Dir(d).Validate(); err != nil {
			return fmt.Errorf("link: %s: %w", d.Key(), err)
		}
	}
	return nil
}

// Validate checks one direction's impairments; the error names the key at fault.
func (d DirConfig) Validate() error {
	checks := []struct {
		key string
		err error
	}{
		{"loss", d.Loss.validate()},
		{"burst", d.Burst.validate(d.Loss)},
		{"drop", d.DropList.validate()},
		{"delay", d.Delay.validate()},
		{"jitter", d.Jitter.validate()},
		{"reorder", d.Jitter.validateReorder()},
		{"dup", d.Duplicate.validate()},
		{"rate", d.Rate.validate()},
	}
	for _, w := range d.Blackholes {
		checks = append(checks, struct {
			key string
			err error
		}{"blackhole", w.validate()})
	}
	for _, c := range checks {
		if c.err != nil {
			return fmt.Errorf("%s: %w", c.key, c.err)
		}
	}
	return nil
}

// needsScheduler reports whether datagrams of this direction can be due after they are written.
func (d DirConfig) needsScheduler() bool {
	return d.Delay.Latency > 0 || d.Jitter.Amplitude > 0 || d.Rate.BytesPerSecond > 0
}

func checkProbability(p float64) error {
	if math.IsNaN(p) || p < 0 || p > 1 {
		return fmt.Errorf("probability %v is not in [0, 1]", p)
	}
	return nil
}
