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
	"kcplab/internal/kcpgo"
	"kcplab/kcpwire"
	"kcplab/link"
	"kcplab/stall"
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

// ListenLoopback opens a UDP socket on 127.0.0.1 with a port the kernel chooses, and returns its address.
func ListenLoopback() (*net.UDPConn, netip.AddrPort, error) {
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
// stalls the process for tens of milliseconds, and kcp-go schedules each update tick one interval
// after the previous one ran, so a late first tick delays every later one. Spaced 2 ms apart, 160
// trials start within a third of a second.
var startPacer = rate.NewLimiter(rate.Every(startSpacing), 1)

// startSpacing is the least time between the starts of two trials of this process.
const startSpacing = 2 * time.Millisecond

// RunTrial runs one trial of e with fresh loopback ports and returns its trace. When e has a Link, the
// datagrams between the peers go through it, its random decisions drawn from seed. An error means the
// trial could not be run or did not finish within the experiment's timeout; a trace is returned with
// whatever was recorded whenever possible.
func RunTrial(ctx context.Context, e *Experiment, n int, open Opener, seed uint64) (*Trace, error) {
	kcpgo.WarmWorkers() // once per process, before the first trial (internal/kcpgo/workers.go)
	if err := startPacer.Wait(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.TrialTimeout())
	defer cancel()

	srvUDP, cliUDP, srvAddr, cliAddr, release, err := trialSockets(ListenLoopback)
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

	// The link, if any, sits over the capture: the capture records what crossed the wire, when it did,
	// and the link's records add what each side sent and what the link did with it.
	var lk *link.Link
	if !e.Link.IsZero() {
		if lk, err = link.New(e.Link, seed, time.Now(), link.WithPayloads()); err != nil {
			return nil, fmt.Errorf("link: %w", err)
		}
		defer lk.Close() // on an early return; the normal teardown closes it after the sockets
	}
	owner := &kcpgo.Owner{Exp: e.ID, Trial: n}
	lc, err := newLifecycle(e, src, lk, owner)
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	tr := &Trace{Experiment: e.ID, Trial: n, Client: cliAddr, Server: srvAddr, owner: owner}
	srvConn, cliConn := lc.wrap(srvUDP, Server), lc.wrap(cliUDP, Client)
	// Env (env.go): the roles' hand on the trial's processes (kill, restart, redial), given the sockets
	// above; it closes what it creates in the teardown below.
	env := newEnv(lc, srvUDP, cliUDP)
	if !e.NoListener {
		if err := lc.listen(srvConn, env); err != nil {
			lc.StopProbe()
			return nil, fmt.Errorf("listen: %w", err)
		}
	}
	// The trial's time origin: just before the client session was created and its first update tick
	// scheduled (the last thing newUDPSession does), so its ticks fall at Start + k × interval or later.
	if tr.Start, err = lc.dial(srvAddr, cliConn, env); err != nil {
		lc.Teardown()
		lc.StopProbe()
		return nil, err
	}

	runErr := settleAndClose(ctx, e, lc, env, tr)
	// Teardown: the listeners (RestartServer's too), every accepted session, then the sockets, the
	// link and the capture.
	ended := lc.Teardown()
	cliUDP.Close()
	srvUDP.Close()
	tr.Strays = env.strayAddrs()
	env.closeSockets() // Env: the sockets it bound
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

	tr.Stalls = stall.Since(tr.Start, lc.StopProbe())
	tr.Datagrams = ownDatagrams(src.Datagrams(), srvAddr)
	tr.Events = ended.Events
	tr.Accepts = ended.Accepts
	tr.ServerErr, tr.TornDown = ended.ServerErr, ended.TornDown
	tr.Decode(e.Transport.Framing())
	return tr, runErr
}

// settleAndClose takes an in-process trial from its start to its teardown and sets tr.ClientErr: it
// waits for the client role, then the first server role (if any session was accepted), then for the
// wire to be quiet, every wait bounded by ctx; then it closes the client sessions the roles left open
// and waits for quiet again. It returns why the trial failed, if it did.
func settleAndClose(ctx context.Context, e *Experiment, lc *Lifecycle, env *Env, tr *Trace) error {
	var runErr error
	if returned, err := lc.WaitClient(ctx); !returned {
		runErr = fmt.Errorf("client role still running after %v", e.TrialTimeout())
	} else {
		tr.ClientErr = err
	}
	if runErr == nil {
		if runErr = lc.Settle(ctx, e.QuietPeriod()); errors.Is(runErr, errServerRunning) {
			runErr = fmt.Errorf("server role still running after %v", e.TrialTimeout())
		}
	}
	// The client session, if the role left it open: its Close may still flush something, so the wire
	// must go quiet again before the listeners stop accepting.
	if lc.Close() && runErr == nil {
		runErr = lc.settleAgain(e.QuietPeriod())
	}
	// Env (env.go): the client sessions Redial made and the role left open, then the wire quiet again.
	if err := env.closeClients(e.QuietPeriod()); err != nil && runErr == nil {
		runErr = err
	}
	_, tr.ClientErr = lc.WaitClient(context.Background())
	return runErr
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
