package harness

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"kcplab/internal/dir"
	"kcplab/internal/kcpgo"
)

// EventKind says what an application role did.
type EventKind uint8

// Kinds of application events.
const (
	EvDial    EventKind = iota + 1 // the client session was created
	EvAccept                       // the listener accepted a session
	EvRead                         // a Read returned
	EvWrite                        // a Write returned
	EvClose                        // Close returned
	EvReturn                       // the role function returned
	EvKill                         // Env.KillServer: the server's socket was closed under it (env.go)
	EvRestart                      // Env.RestartServer: a new listener on the server's address (env.go)
)

var eventNames = map[EventKind]string{
	EvDial: "Dial", EvAccept: "Accept", EvRead: "Read", EvWrite: "Write", EvClose: "Close", EvReturn: "return",
	EvKill: "KillServer", EvRestart: "RestartServer",
}

// String returns the event kind's name.
func (k EventKind) String() string {
	if s, ok := eventNames[k]; ok {
		return s
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// ParseEventKind returns the event kind whose String is name, and whether there is one.
func ParseEventKind(name string) (EventKind, bool) {
	for k, s := range eventNames {
		if s == name {
			return k, true
		}
	}
	return 0, false
}

// Event is one thing an application role did or saw, with its result.
type Event struct {
	Time    time.Time     // when the call returned
	Side    Side          // client or server
	Session int           // server: accepted session number (1-based); client: 0, or 2, 3... for Env.Redial's sessions
	Kind    EventKind     //
	N       int           // bytes read or written
	Data    []byte        // the bytes read or written
	Err     error         // the call's error
	Dur     time.Duration // how long the call blocked

	Peer netip.AddrPort // EvAccept: the accepted session's remote address (Trace.ServerPeer)
}

// Who names the side and session, e.g. "client" or "server#2".
func (e Event) Who() string {
	if e.Side == Server && e.Session > 0 {
		return fmt.Sprintf("server#%d", e.Session)
	}
	if e.Session > 0 { // a client session of Env.Redial (env.go)
		return fmt.Sprintf("%s#%d", e.Side, e.Session)
	}
	return e.Side.String()
}

// String is a one-line description, e.g. "client: Read -> timeout after 1.001s".
func (e Event) String() string {
	switch e.Kind {
	case EvRead, EvWrite:
		if e.Err != nil {
			return fmt.Sprintf("%s: %s -> %s after %.3fs", e.Who(), e.Kind, ErrClass(e.Err), e.Dur.Seconds())
		}
		return fmt.Sprintf("%s: %s -> %d bytes %q", e.Who(), e.Kind, e.N, Clip(e.Data, 60))
	case EvReturn:
		if e.Err != nil {
			return fmt.Sprintf("%s: role returned %s (%v)", e.Who(), ErrClass(e.Err), e.Err)
		}
		return fmt.Sprintf("%s: role returned", e.Who())
	default:
		if e.Err != nil {
			return fmt.Sprintf("%s: %s() -> %v", e.Who(), e.Kind, e.Err)
		}
		return fmt.Sprintf("%s: %s()", e.Who(), e.Kind)
	}
}

// Clip renders at most n bytes of b, marking a cut with "…" (events, and checks that quote bytes).
func Clip(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// IsTimeout reports whether err is a deadline timeout as the linked kcp-go release reports it
// (kcpgo.IsTimeout).
func IsTimeout(err error) bool { return kcpgo.IsTimeout(err) }

// Outcome is how a call or a role ended, as the results talk about it.
type Outcome uint8

// Outcomes of a call or a role.
const (
	OutcomeOK       Outcome = iota // no error
	OutcomeTimeout                 // a deadline (IsTimeout)
	OutcomeEOF                     // io.EOF
	OutcomeClosed                  // io.ErrClosedPipe or net.ErrClosed
	OutcomeOther                   // any other error
	OutcomeTornDown                // a role the trial's teardown ended (Trace.ServerOutcome), whatever it returned
)

var outcomeNames = [...]string{"ok", "timeout", "EOF", "closed", "other", "torn down"}

// String returns "ok", "timeout", "EOF", "closed", "other" or "torn down".
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// OutcomeOf is the outcome of a call or a role that returned err.
func OutcomeOf(err error) Outcome {
	switch {
	case err == nil:
		return OutcomeOK
	case IsTimeout(err):
		return OutcomeTimeout
	case errors.Is(err, io.EOF):
		return OutcomeEOF
	case errors.Is(err, io.ErrClosedPipe), errors.Is(err, net.ErrClosed):
		return OutcomeClosed
	default:
		return OutcomeOther
	}
}

// ErrClass names an error the way the results talk about it: its outcome ("ok", "timeout", "EOF",
// "closed"), or for any other error its message.
func ErrClass(err error) string {
	if o := OutcomeOf(err); o != OutcomeOther {
		return o.String()
	}
	return err.Error()
}

// ServerOutcome returns how server#n's role ended (1-based, in accept order): OutcomeTornDown when the
// trial's teardown ended it, else the outcome of the error it returned. ok is false when fewer than n
// sessions were accepted.
func (tr *Trace) ServerOutcome(n int) (o Outcome, ok bool) {
	if n < 1 || n > len(tr.ServerErr) {
		return 0, false
	}
	if n-1 < len(tr.TornDown) && tr.TornDown[n-1] {
		return OutcomeTornDown, true
	}
	return OutcomeOf(tr.ServerErr[n-1]), true
}

// eventLog collects the events of one trial; safe for concurrent use.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) add(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) snapshot() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}

// recConn wraps a session's net.Conn and records every Read, Write and Close as an event.
type recConn struct {
	net.Conn
	log     *eventLog
	side    Side
	session int
	closed  atomic.Bool // Close was called
	env     *Env        // the trial's Env, for EnvOf (env.go)
}

func (c *recConn) record(kind EventKind, start time.Time, n int, data []byte, err error) {
	now := time.Now()
	c.log.add(Event{Time: now, Side: c.side, Session: c.session, Kind: kind, N: n,
		Data: append([]byte(nil), data...), Err: err, Dur: now.Sub(start)})
}

func (c *recConn) Read(b []byte) (int, error) {
	start := time.Now()
	n, err := c.Conn.Read(b)
	c.record(EvRead, start, n, b[:n], err)
	return n, err
}

func (c *recConn) Write(b []byte) (int, error) {
	start := time.Now()
	n, err := c.Conn.Write(b)
	c.record(EvWrite, start, n, b[:n], err)
	return n, err
}

func (c *recConn) Close() error {
	c.closed.Store(true)
	start := time.Now()
	err := c.Conn.Close()
	c.record(EvClose, start, 0, nil, err)
	return err
}

// Side is the client or the server of a trial: the direction of what it sends (Dir), whose String
// names it ("client", "server").
type Side = dir.Dir

// The two roles of a trial.
const (
	Client = dir.C2S
	Server = dir.S2C
)
