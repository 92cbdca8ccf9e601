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
	"golang.org/x/time/rate"

	"kcplab/capture"
	"kcplab/kcpwire"
	"kcplab/link"
)

// CaptureKind selects how a trial's datagrams are recorded.
type CaptureKind string

// Capture kinds.
const (
	CaptureTap  CaptureKind = "tap"  // in-process tap on the sessions' sockets (no privileges needed)
	CaptureLive CaptureKind = "live" // libpcap on the loopback interface (root, build tag pcap)
)

// ParseCaptureKind parses "tap" or "live".
func ParseCaptureKind(s string) (CaptureKind, error) {
	switch k := CaptureKind(s); k {
	case CaptureTap, CaptureLive:
		return k, nil
	}
	return "", fmt.Errorf("unknown capture %q: want tap or live", s)
}

// Opener starts the capture of one trial, given the trial's ports.
type Opener func(ports ...uint16) (capture.Source, error)

// TapOpener captures each trial with a fresh in-process tap.
func TapOpener(...uint16) (capture.Source, error) { return capture.NewTap(), nil }

// opener returns the Opener for a capture kind, and a function that releases what it holds.
func opener(kind CaptureKind) (Opener, func(), error) {
	switch kind {
	case CaptureLive:
		hub, err := liveHub.acquire()
		if err != nil {
			return nil, nil, err
		}
		return hub.Source, liveHub.release, nil
	case CaptureTap, "":
		return TapOpener, func() {}, nil
	}
	return nil, nil, fmt.Errorf("unknown capture %q", kind)
}

// liveHub is the process's one libpcap handle, shared by every run that captures live at the same
// time (runs of several experiments at once, as the tests do): opening a handle maps its ring and
// copies every loopback packet, and a handle per run, or one opened while other runs' trials are
// running, stalls the process for 100 ms and more (measured with seven at once). Each trial reads
// only its own ports from it. The last run to release it closes it.
var liveHub sharedHub

// sharedHub is a libpcap hub opened by its first user and closed by its last.
type sharedHub struct {
	mu    sync.Mutex
	hub   *capture.Hub
	users int
}

// acquire returns the shared hub, opening it for the first user.
func (h *sharedHub) acquire() (*capture.Hub, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hub == nil {
		hub, err := capture.OpenHub(capture.LiveInterface)
		if err != nil {
			return nil, err
		}
		h.hub = hub
	}
	h.users++
	return h.hub, nil
}

// release ends one user's use of the hub, closing it after the last.
func (h *sharedHub) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.users--; h.users == 0 {
		_, _ = h.hub.Close()
		h.hub = nil
	}
}

// Framing is the framing a trial's datagrams are decoded with.
func (t Transport) Framing() kcpwire.Framing {
	switch {
	case t.Key != nil:
		return kcpwire.FramingEncrypted
	case t.DataShards > 0 && t.ParityShards > 0:
		return kcpwire.FramingFEC
	}
	return kcpwire.FramingPlain
}

func (t Transport) block() (kcp.BlockCrypt, error) {
	if t.Key == nil {
		return nil, nil
	}
	return kcp.NewAESBlockCrypt(t.Key)
}

// trial holds the live state of one running trial.
type trial struct {
	e        *Experiment
	log      eventLog
	mu       sync.Mutex
	sessions []*kcp.UDPSession
	errs     []error
	returned []bool // per accepted session: its role has returned
	tornDown []bool // per accepted session: its role was still running at teardown
	roles    sync.WaitGroup
	firstSrv chan struct{} // closed when the first accepted session's role returns
	env      *Env          // what the roles can do to the trial's processes (env.go)
	owner    *trialOwner   // registers the convs of the trial's sessions (crossed.go)
}

// listenLoopback opens a UDP socket on 127.0.0.1 with a port the kernel chooses.
func listenLoopback() (*net.UDPConn, netip.AddrPort, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	return c, c.LocalAddr().(*net.UDPAddr).AddrPort(), nil
}

// trialPorts holds the loopback ports of the trials of this process that have not finished. A
// session's Close frees its socket's port while its trial still runs (the client session owns its
// socket), and the kernel may give that port to the next trial's socket; the old trial's capture
// still watches the port and its server may still retransmit to it. So a trial never takes a port
// that a running trial holds.
var trialPorts = struct {
	sync.Mutex
	held map[uint16]bool
}{held: map[uint16]bool{}}

// maxPortTries bounds how often a trial asks the kernel for a pair of ports no running trial holds.
const maxPortTries = 16

// trialSockets opens the server's and the client's loopback sockets with listen, on ports that no
// running trial of this process holds, and holds them until release is called (after both sockets
// are closed).
func trialSockets(listen func() (*net.UDPConn, netip.AddrPort, error)) (srv, cli *net.UDPConn, srvAddr, cliAddr netip.AddrPort, release func(), err error) {
	for range maxPortTries {
		if srv, srvAddr, err = listen(); err != nil {
			return nil, nil, srvAddr, cliAddr, nil, fmt.Errorf("server socket: %w", err)
		}
		if cli, cliAddr, err = listen(); err != nil {
			srv.Close()
			return nil, nil, srvAddr, cliAddr, nil, fmt.Errorf("client socket: %w", err)
		}
		s, c := srvAddr.Port(), cliAddr.Port()
		trialPorts.Lock()
		free := !trialPorts.held[s] && !trialPorts.held[c]
		if free {
			trialPorts.held[s], trialPorts.held[c] = true, true
		}
		trialPorts.Unlock()
		if free {
			return srv, cli, srvAddr, cliAddr, func() {
				trialPorts.Lock()
				delete(trialPorts.held, s)
				delete(trialPorts.held, c)
				trialPorts.Unlock()
			}, nil
		}
		srv.Close()
		cli.Close()
	}
	return nil, nil, srvAddr, cliAddr, nil, fmt.Errorf("no pair of loopback ports free of other running trials in %d tries", maxPortTries)
}

// startPacer spaces the starts of the trials of this process: a burst of trials starting at once
// stalls the process for tens of milliseconds (measured: 35 ms for 160 trials started together), and
// kcp-go schedules each update tick one interval after the previous one ran, so a late first tick
// delays every later one. Spaced 2 ms apart, 160 trials start within a third of a second.
var startPacer = rate.NewLimiter(rate.Every(startSpacing), 1)

// startSpacing is the least time between the starts of two trials of this process.
const startSpacing = 2 * time.Millisecond

// RunTrial runs one trial of e with fresh loopback ports and returns its trace. When e has a Link, the
// datagrams between the peers go through it, its random decisions drawn from seed. An error means the
// trial could not be run or did not finish within the experiment's timeout; a trace is returned with
// whatever was recorded whenever possible.
func RunTrial(ctx context.Context, e *Experiment, n int, open Opener, seed uint64) (*Trace, error) {
	warmWorkers() // once per process, before the first trial (kcpworkers.go)
	if err := startPacer.Wait(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout())
	defer cancel()

	srvUDP, cliUDP, srvAddr, cliAddr, release, err := trialSockets(listenLoopback)
	if err != nil {
		return nil, err
	}
	defer release() // deferred first, so it runs after the sockets and the capture are closed
	defer srvUDP.Close()
	defer cliUDP.Close() // the client session owns it; closing twice is harmless

	src, err := open(srvAddr.Port(), cliAddr.Port())
	if err != nil {
		return nil, err
	}
	defer src.Close()

	block, err := e.Transport.block()
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	ds, ps := e.Transport.DataShards, e.Transport.ParityShards

	probe := startLoadProbe()
	t := &trial{e: e, firstSrv: make(chan struct{}), owner: &trialOwner{exp: e.ID, trial: n}}
	tr := &Trace{Experiment: e.ID, Trial: n, Client: cliAddr, Server: srvAddr, owner: t.owner}

	// The link, if any, sits over the capture: the capture records what crossed the wire, when it did,
	// and the link's records add what each side sent and what the link did with it.
	var lk *link.Link
	srvConn, cliConn0 := src.Wrap(srvUDP, capture.SideServer), src.Wrap(cliUDP, capture.SideClient)
	if !e.Link.IsZero() {
		if lk, err = link.New(e.Link, seed, time.Now(), link.WithPayloads()); err != nil {
			return nil, fmt.Errorf("link: %w", err)
		}
		defer lk.Close() // on an early return; the normal teardown closes it after the sockets
		srvConn, cliConn0 = lk.Wrap(srvConn, link.S2C), lk.Wrap(cliConn0, link.C2S)
	}
	// Env (env.go): the roles' hand on the trial's processes (kill, restart, redial), given the sockets
	// and wrappers above; it closes what it creates in the teardown below.
	t.env = newEnv(t, src, lk, block, ds, ps, srvUDP, cliUDP, srvAddr, cliAddr)
	stopListener := func() {}
	if !e.NoListener {
		ln, err := serveOn(block, ds, ps, srvConn)
		if err != nil {
			probe.Stop()
			return nil, fmt.Errorf("listen: %w", err)
		}
		acceptDone := make(chan struct{})
		go t.acceptLoop(ln, acceptDone)
		stopListener = func() { ln.Close(); <-acceptDone }
	}

	conv, err := t.owner.newConv()
	if err != nil {
		stopListener()
		probe.Stop()
		return nil, err
	}
	cli, cliNet, err := dialOn(conv, net.UDPAddrFromAddrPort(srvAddr), block, ds, ps, cliConn0)
	// The trial's time origin: the client session exists and its first update tick is scheduled
	// (the last thing newUDPSession does), so its ticks fall at Start + k × interval.
	tr.Start = time.Now()
	if err != nil {
		stopListener()
		probe.Stop()
		return nil, fmt.Errorf("dial: %w", err)
	}
	if e.ClientSession != nil {
		e.ClientSession(cli)
	}
	t.log.add(Event{Time: tr.Start, Side: capture.SideClient, Kind: EvDial})
	clientDone := make(chan error, 1)
	cliConn := &recConn{Conn: cliNet, log: &t.log, side: capture.SideClient, env: t.env}
	go func() {
		err := e.Client(cliConn)
		t.log.add(Event{Side: capture.SideClient, Kind: EvReturn, Err: err})
		clientDone <- err
	}()

	// Wait for the client role, then the first server role (if any session was accepted), then for
	// the wire to be quiet. Every wait is bounded by the trial's deadline.
	var runErr error
	select {
	case tr.ClientErr = <-clientDone:
		clientDone = nil
	case <-ctx.Done():
		runErr = fmt.Errorf("client role still running after %v", e.timeout())
	}
	if runErr == nil && t.accepted() > 0 {
		select {
		case <-t.firstSrv:
		case <-ctx.Done():
			runErr = fmt.Errorf("server role still running after %v", e.timeout())
		}
	}
	if runErr == nil {
		runErr = waitQuiet(ctx, src, lk, e.quiet())
	}

	// Teardown: the client session, if the role left it open (its Close may still flush something, so
	// the wire must go quiet again before the listener stops accepting), the listener, every accepted
	// session.
	if !cliConn.closed.Load() {
		cliConn.Close()
		if runErr == nil {
			qctx, qcancel := context.WithTimeout(context.Background(), 2*e.quiet()+time.Second)
			runErr = waitQuiet(qctx, src, lk, e.quiet())
			qcancel()
		}
	}
	// Env (env.go): the client sessions Redial made and the role left open, then the wire quiet again.
	if err := t.env.closeClients(src, lk, e.quiet()); err != nil && runErr == nil {
		runErr = err
	}
	if clientDone != nil {
		tr.ClientErr = <-clientDone
	}
	stopListener()
	t.env.stopListeners() // Env: the listeners RestartServer started
	t.closeSessions()
	t.roles.Wait()
	cliUDP.Close()
	srvUDP.Close()
	t.env.closeSockets() // Env: the sockets it bound
	if lk != nil {
		_ = lk.Close() // after the sockets: what it still held is recorded as lost with them
		tr.Link = &TraceLink{Seed: seed, Summary: lk.Summary(), Records: lk.Records()}
	}
	if tr.Stats, err = src.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("capture: %w", err)
	}
	if d := tr.Stats.Dropped + tr.Stats.IfDropped; d > 0 && runErr == nil {
		runErr = fmt.Errorf("capture incomplete: libpcap dropped %d packet(s)", d)
	}

	tr.Stalls = newStalls(tr.Start, probe.Stop())
	tr.Datagrams = ownDatagrams(src.Datagrams(), srvAddr)
	tr.Events = t.log.snapshot()
	tr.Accepts = len(t.sessions)
	tr.ServerErr, tr.TornDown = t.errs, t.tornDown
	tr.decode(e.Transport.Framing())
	return tr, runErr
}

func (t *trial) acceptLoop(ln *kcp.Listener, done chan<- struct{}) {
	defer close(done)
	for {
		s, err := ln.AcceptKCP()
		if err != nil {
			return
		}
		if t.e.ServerSession != nil {
			t.e.ServerSession(s)
		}
		t.mu.Lock()
		t.sessions = append(t.sessions, s)
		t.errs = append(t.errs, nil)
		t.returned = append(t.returned, false)
		idx := len(t.sessions)
		t.mu.Unlock()
		t.log.add(Event{Side: capture.SideServer, Session: idx, Kind: EvAccept, Peer: peerOf(s.RemoteAddr())})
		t.roles.Add(1)
		go func() {
			defer t.roles.Done()
			err := t.e.Server(&recConn{Conn: s, log: &t.log, side: capture.SideServer, session: idx, env: t.env})
			t.log.add(Event{Side: capture.SideServer, Session: idx, Kind: EvReturn, Err: err})
			t.mu.Lock()
			t.errs[idx-1] = err
			t.returned[idx-1] = true
			t.mu.Unlock()
			if idx == 1 {
				close(t.firstSrv)
			}
		}()
	}
}

func (t *trial) accepted() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.sessions)
}

// closeSessions closes every accepted session and marks the roles still running as torn down.
func (t *trial) closeSessions() {
	t.mu.Lock()
	t.tornDown = make([]bool, len(t.returned))
	for i, r := range t.returned {
		t.tornDown[i] = !r
	}
	sessions := append([]*kcp.UDPSession(nil), t.sessions...)
	t.mu.Unlock()
	for _, s := range sessions {
		s.Close()
	}
}

// ownDatagrams keeps the datagrams to or from the trial's server address. The client talks only to the
// server, and live capture sees every process's loopback traffic: once the client's session closes its
// socket, another program (another kcplab run, a test in parallel) may get the client's port from the
// kernel, and its datagrams to other servers are not this trial's.
func ownDatagrams(dgs []capture.Datagram, srv netip.AddrPort) []capture.Datagram {
	out := dgs[:0:0]
	for _, d := range dgs {
		if d.Src == srv || d.Dst == srv {
			out = append(out, d)
		}
	}
	return out
}

// waitQuiet returns once no datagram has been captured for the quiet period and the link, if any, holds
// no datagram: a delayed datagram is silent until it is due.
func waitQuiet(ctx context.Context, src capture.Source, lk *link.Link, quiet time.Duration) error {
	timer := time.NewTimer(quiet)
	defer timer.Stop()
	for {
		select {
		case <-src.Notify():
			timer.Reset(quiet)
		case <-timer.C:
			if lk == nil || lk.Pending() == 0 {
				return nil
			}
			timer.Reset(quiet)
		case <-ctx.Done():
			return errors.New("the wire never went quiet before the trial's deadline")
		}
	}
}
