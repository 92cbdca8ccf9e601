package claims

import (
	"fmt"
	"time"
)

// Mode is a KCP configuration: ikcp_nodelay's four arguments, the windows and the minimum RTO.
type Mode struct {
	Name     string
	NoDelay  int
	Interval time.Duration
	Resend   int
	NC       int // 1: no congestion control
	SndWnd   int
	RcvWnd   int
	// MinRTO is test.cpp's rx_minrto for the mode (0: ikcp_nodelay's own, 30 ms with nodelay, 100 ms
	// without). kcp-go has no setter for it, so a case reports MinRTOApplied false when it differs.
	MinRTO time.Duration
}

// The modes of test.cpp, with its windows (128/128).
var (
	ModeDefault = Mode{Name: "default", NoDelay: 0, Interval: 10 * time.Millisecond, Resend: 0, NC: 0, SndWnd: 128, RcvWnd: 128}
	ModeNormal  = Mode{Name: "normal", NoDelay: 0, Interval: 10 * time.Millisecond, Resend: 0, NC: 1, SndWnd: 128, RcvWnd: 128}
	ModeFast    = Mode{Name: "fast", NoDelay: 2, Interval: 10 * time.Millisecond, Resend: 2, NC: 1, SndWnd: 128, RcvWnd: 128,
		MinRTO: 10 * time.Millisecond}
)

// Modes are test.cpp's three modes, in its order.
var Modes = []Mode{ModeDefault, ModeNormal, ModeFast}

// ModeByName returns the mode called name.
func ModeByName(name string) (Mode, error) {
	for _, m := range Modes {
		if m.Name == name {
			return m, nil
		}
	}
	return Mode{}, fmt.Errorf("claims: unknown KCP mode %q (default, normal, fast)", name)
}

// String renders the mode as its nodelay call: "fast nodelay(2,10,2,1)".
func (m Mode) String() string {
	return fmt.Sprintf("%s nodelay(%d,%d,%d,%d)", m.Name, m.NoDelay, m.Interval.Milliseconds(), m.Resend, m.NC)
}
