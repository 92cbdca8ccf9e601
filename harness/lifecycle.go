package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"

	"kcplab/capture"
	"kcplab/internal/kcpgo"
	"kcplab/link"
	"kcplab/stall"
)

// The trial lifecycle: the steps that run an experiment's roles on kcp-go sessions, written once for
// both places a trial's roles run. RunTrial takes them for both ends of a trial in this process; a
// peer (package peer) takes them for the one end it runs, one request of the peer protocol each:
//
//	Listen      a listener on the server's socket; the Server role on every session it accepts
//	Dial        the client session to the server, with a fresh conv; the Client role on it
//	WaitClient  the Client role has returned
//	Settle      the first accepted session's role has returned, then the wire has gone quiet
//	Close       the client session, if its role left it open (then the wire settles again)
//	Teardown    the listeners stop, every accepted session closes, every role has returned
//
// The sockets are the caller's: it binds them, wraps them by its capture before Listen and Dial, and
// closes them after Teardown. Dial returns the trial's time origin: the moment just before kcp-go
// created the session and scheduled its first update tick. Close reports whether the role had left the session open: its
// Close may still flush, so the wire must settle again before Teardown. A Lifecycle records the roles'
// events, and watches for stalls of the process (the load probe, package stall) until StopProbe.

// Lifecycle runs one trial's roles in this process, both of its ends (RunTrial) or one (a peer).
type Lifecycle struct {
	e     *Experiment
	block kcp.BlockCrypt
	owner *kcpgo.Owner   // registers the convs it dials as the trial's (crossed.go); nil in a peer
	src   capture.Source // the capture Settle watches for quiet
	lk    *link.Link     // the link between the ends, if any: a datagram it holds is not quiet yet
	probe *stall.Use
	log   eventLog
	// dialOn creates the client session: kcpgo.DialOn, or a test's wrapper that stalls inside it.
	dialOn func(conv uint32, raddr net.Addr, block kcp.BlockCrypt, ds, ps int, conn net.PacketConn) (*kcp.UDPSession, net.Conn, error)

	mu         sync.Mutex
	sessions   []*kcp.UDPSession // accepted, in accept order
	errs       []error           // per accepted session: what its role returned
	returned   []bool            // per accepted session: its role has returned
	stops      []func()          // stop the listeners and wait for their accept loops
	client     *recConn          // the dialed session
	clientDone chan struct{}     // closed when the Client role returns
	clientErr  error             // what it returned
	firstSrv   chan struct{}     // closed when the first accepted session's role returns
	roles      sync.WaitGroup    // the Server roles
}

// NewLifecycle begins one end of a trial of e in a peer, whose socket src captures.
func NewLifecycle(e *Experiment, src capture.Source) (*Lifecycle, error) {
	kcpgo.WarmWorkers() // once per process, before its first trial, as RunTrial does (internal/kcpgo/workers.go)
	return newLifecycle(e, src, nil, nil)
}

// newLifecycle begins a trial's lifecycle: the transport's cipher, and the trial's use of the load
// probe. lk is the link between the ends (nil: none); owner registers the trial's convs (nil: none).
func newLifecycle(e *Experiment, src capture.Source, lk *link.Link, owner *kcpgo.Owner) (*Lifecycle, error) {
	block, err := e.Transport.block()
	if err != nil {
		return nil, err
	}
	return &Lifecycle{e: e, block: block, owner: owner, src: src, lk: lk, firstSrv: make(chan struct{}),
		probe: stall.Watch(), dialOn: kcpgo.DialOn}, nil
}

// wrap puts a socket of the trial under the capture and then the link, if any.
func (l *Lifecycle) wrap(sock net.PacketConn, side Side) net.PacketConn {
	conn := l.src.Wrap(sock, side)
	if l.lk == nil {
		return conn
	}
	return l.lk.Wrap(conn, side)
}

// Listen starts a listener on conn and runs the Server role on every session it accepts.
func (l *Lifecycle) Listen(conn net.PacketConn) error { return l.listen(conn, nil) }

// listen is Listen, with the trial's Env for the roles' conns (nil: none, as in a peer).
func (l *Lifecycle) listen(conn net.PacketConn, env *Env) error {
	ln, err := kcpgo.ServeOn(l.block, l.e.Transport.DataShards, l.e.Transport.ParityShards, conn)
	if err != nil {
		return err
	}
	done := make(chan struct{})
	go l.accept(ln, env, done)
	l.mu.Lock()
	l.stops = append(l.stops, func() { ln.Close(); <-done })
	l.mu.Unlock()
	return nil
}

// accept runs the Server role on every session ln accepts, until ln is closed.
func (l *Lifecycle) accept(ln *kcp.Listener, env *Env, done chan<- struct{}) {
	defer close(done)
	for {
		s, err := ln.AcceptKCP()
		if err != nil {
			return
		}
		l.e.serverSession(s)
		l.mu.Lock()
		l.sessions = append(l.sessions, s)
		l.errs = append(l.errs, nil)
		l.returned = append(l.returned, false)
		idx := len(l.sessions)
		l.mu.Unlock()
		l.log.add(Event{Side: Server, Session: idx, Kind: EvAccept, Peer: peerOf(s.RemoteAddr())})
		l.roles.Add(1)
		go func() {
			defer l.roles.Done()
			err := l.e.ServerRole()(&recConn{Conn: s, log: &l.log, side: Server, session: idx, env: env})
			l.log.add(Event{Side: Server, Session: idx, Kind: EvReturn, Err: err})
			l.mu.Lock()
			l.errs[idx-1] = err
			l.returned[idx-1] = true
			l.mu.Unlock()
			if idx == 1 {
				close(l.firstSrv)
			}
		}()
	}
}

func (l *Lifecycle) accepted() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sessions)
}

// Dial creates a client session to server on conn, runs the Client role on it, and returns when it began.
func (l *Lifecycle) Dial(server netip.AddrPort, conn net.PacketConn) (time.Time, error) {
	return l.dial(server, conn, nil)
}

// dial is Dial, with the trial's Env for the role's conn (nil: none, as in a peer).
func (l *Lifecycle) dial(server netip.AddrPort, conn net.PacketConn, env *Env) (time.Time, error) {
	c, start, err := l.session(server, conn, 0, env)
	if err != nil {
		return start, err
	}
	l.log.add(Event{Time: start, Side: Client, Kind: EvDial})
	done := make(chan struct{})
	l.mu.Lock()
	l.client, l.clientDone = c, done
	l.mu.Unlock()
	go func() {
		err := l.e.ClientRole()(c)
		l.log.add(Event{Side: Client, Kind: EvReturn, Err: err})
		l.mu.Lock()
		l.clientErr = err
		l.mu.Unlock()
		close(done)
	}()
	return start, nil
}

// session dials a client session to server on conn with a fresh conv (the trial's, when it registers
// convs) and returns its conn, recorded as the client's session number session (0: the dialed one;
// 2, 3...: Env.Redial's), and when kcp-go created it.
func (l *Lifecycle) session(server netip.AddrPort, conn net.PacketConn, session int, env *Env) (*recConn, time.Time, error) {
	conv, err := l.owner.NewConv()
	if err != nil {
		return nil, time.Time{}, err
	}
	t := l.e.Transport
	// The origin is taken before the session exists, so that its update ticks, scheduled as it is
	// created, fall at least an interval after it: a stall while kcp-go creates the session then
	// delays the ticks as seen from the origin, never advances them.
	start := time.Now()
	s, sNet, err := l.dialOn(conv, net.UDPAddrFromAddrPort(server), l.block, t.DataShards, t.ParityShards, conn)
	if err != nil {
		return nil, start, fmt.Errorf("dial: %w", err)
	}
	l.e.clientSession(s)
	return &recConn{Conn: sNet, log: &l.log, side: Client, session: session, env: env}, start, nil
}

// WaitClient waits, until ctx is done, for the dialed Client role to return, and returns what it returned.
func (l *Lifecycle) WaitClient(ctx context.Context) (returned bool, roleErr error) {
	l.mu.Lock()
	done := l.clientDone
	l.mu.Unlock()
	if done == nil {
		return true, nil
	}
	select {
	case <-done:
		l.mu.Lock()
		defer l.mu.Unlock()
		return true, l.clientErr
	case <-ctx.Done():
		return false, nil
	}
}

// errServerRunning is Settle's error when the first accepted session's role had not returned by the
// deadline.
var errServerRunning = errors.New("server role still running at the deadline")

// Settle waits, until ctx is done, for the first accepted session's role (if any), then for a quiet wire.
func (l *Lifecycle) Settle(ctx context.Context, quiet time.Duration) error {
	if l.accepted() > 0 {
		select {
		case <-l.firstSrv:
		case <-ctx.Done():
			return errServerRunning
		}
	}
	return waitQuiet(ctx, l.src, l.lk, quiet)
}

// Close closes the client session if its role left it open, and reports whether it did.
func (l *Lifecycle) Close() bool {
	l.mu.Lock()
	c := l.client
	l.mu.Unlock()
	if c == nil || c.closed.Load() {
		return false
	}
	c.Close()
	return true
}

// QuietAgainLimit bounds the wait for the wire to settle again after a Close at teardown.
func QuietAgainLimit(quiet time.Duration) time.Duration { return 2*quiet + time.Second }

// settleAgain waits, at most QuietAgainLimit, for the wire to be quiet again after a Close.
func (l *Lifecycle) settleAgain(quiet time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), QuietAgainLimit(quiet))
	defer cancel()
	return waitQuiet(ctx, l.src, l.lk, quiet)
}

// Ended is what the roles of a trial in this process left, as Teardown returns it.
type Ended struct {
	Accepts   int     // sessions the listeners accepted
	ServerErr []error // what each accepted session's role returned, in accept order
	TornDown  []bool  // per accepted session: its role was still running at Teardown and ended by it
	Events    []Event // the roles' events, in the order they were recorded
}

// Teardown stops the listeners, closes every accepted session and returns what the roles left.
func (l *Lifecycle) Teardown() Ended {
	l.mu.Lock()
	stops := l.stops
	l.stops = nil
	l.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
	tornDown := l.closeSessions()
	l.roles.Wait()
	l.mu.Lock()
	end := Ended{Accepts: len(l.sessions), ServerErr: l.errs, TornDown: tornDown}
	l.mu.Unlock()
	end.Events = l.log.snapshot()
	return end
}

// closeSessions closes every accepted session and returns which roles were still running.
func (l *Lifecycle) closeSessions() []bool {
	l.mu.Lock()
	tornDown := make([]bool, len(l.returned))
	for i, r := range l.returned {
		tornDown[i] = !r
	}
	sessions := append([]*kcp.UDPSession(nil), l.sessions...)
	l.mu.Unlock()
	for _, s := range sessions {
		s.Close()
	}
	return tornDown
}

// StopProbe ends the lifecycle's use of the load probe and returns the stalls since its start.
func (l *Lifecycle) StopProbe() []stall.Span { return l.probe.Stop() }

// waitQuiet returns once no datagram has been captured for the quiet period and the link, if any, holds
// no datagram (capture.WaitQuiet).
func waitQuiet(ctx context.Context, src capture.Source, lk *link.Link, quiet time.Duration) error {
	var held func() bool
	if lk != nil {
		held = func() bool { return lk.Pending() > 0 }
	}
	return capture.WaitQuiet(ctx, src.Notify(), quiet, held)
}
