package link

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Blackhole makes the path dead for the datagrams sent in [From, Until), both relative to the
// link's start; Until == 0 means for ever from From on.
type Blackhole struct {
	From  time.Duration // >= 0
	Until time.Duration // > From, or 0 for no end
}

// Contains reports whether a datagram sent at elapsed time t (since the link's start) is in the window.
func (b Blackhole) Contains(t time.Duration) bool {
	return t >= b.From && (b.Until == 0 || t < b.Until)
}

func (b Blackhole) validate() error {
	if b.From < 0 {
		return fmt.Errorf("blackhole starts at %v, before the link's start", b.From)
	}
	if b.Until != 0 && b.Until <= b.From {
		return fmt.Errorf("blackhole %v..%v ends before it starts", b.From, b.Until)
	}
	return nil
}

func inBlackhole(ws []Blackhole, t time.Duration) bool {
	for _, w := range ws {
		if w.Contains(t) {
			return true
		}
	}
	return false
}

// normalizeBlackholes sorts the windows and merges the overlapping and adjacent ones.
func normalizeBlackholes(ws []Blackhole) []Blackhole {
	if len(ws) == 0 {
		return nil
	}
	ws = slices.Clone(ws)
	slices.SortFunc(ws, func(a, b Blackhole) int { return int(a.From - b.From) })
	out := ws[:1]
	for _, w := range ws[1:] {
		last := &out[len(out)-1]
		if last.Until == 0 || w.From <= last.Until {
			if last.Until != 0 && (w.Until == 0 || w.Until > last.Until) {
				last.Until = w.Until
			}
			continue
		}
		out = append(out, w)
	}
	return out
}

// parseBlackholes reads "2s..", "1s..3s", "..3s" and several windows joined by '+'.
func parseBlackholes(v string) ([]Blackhole, error) {
	var ws []Blackhole
	for item := range strings.SplitSeq(v, "+") {
		from, until, ok := strings.Cut(item, "..")
		if !ok {
			return nil, fmt.Errorf("%q is not a window (want 2s.. or 1s..3s)", item)
		}
		var w Blackhole
		var err error
		if from != "" {
			if w.From, err = time.ParseDuration(from); err != nil {
				return nil, fmt.Errorf("%q in window %q is not a duration", from, item)
			}
		}
		if until != "" {
			if w.Until, err = time.ParseDuration(until); err != nil {
				return nil, fmt.Errorf("%q in window %q is not a duration", until, item)
			}
			if w.Until <= w.From {
				return nil, fmt.Errorf("window %q ends before it starts", item)
			}
		}
		if err := w.validate(); err != nil {
			return nil, err
		}
		ws = append(ws, w)
	}
	return normalizeBlackholes(ws), nil
}

func formatBlackholes(ws []Blackhole) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.From.String() + ".."
		if w.Until != 0 {
			parts[i] += w.Until.String()
		}
	}
	return strings.Join(parts, "+")
}
