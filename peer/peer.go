package peer

// The peer protocol, version 2 (PeerProto): how the harness drives one role of a trial in another
// process: a kcplab built against another kcp-go release, a peer of another KCP implementation (such as
// the C reference), or one on another host. This file is the whole protocol; the harness's pair trials
// (RunPair, pair.go) use nothing else, and Conform (conform.go) checks that a peer speaks it.
//
// Transport: newline-delimited JSON objects (one PeerMsg per line) over a byte stream, the peer's
// stdin (coordinator → peer) and stdout (peer → coordinator); the peer logs to stderr, and ends when
// its stdin ends. Several trials may run at once: every message but "hello" carries the id the
// coordinator chose for one role of one trial (unique per peer; a peer may run both roles of a trial,
// under two ids; not the trial's number in its run). Times are wall-clock Unix nanoseconds, each
// peer's own clock (the coordinator puts them on its own: see clock).
//
// Peer → coordinator, once at start, before anything else:
//
//	{"op":"hello","impl":"kcp-go","impl_version":"v5.7.6","kcp_go":"v5.7.6","proto":2,"ignores":["min_rto_ms"]}
//
// impl names the implementation, impl_version its version (an ikcp peer: "node-kcp 1.0.13, ikcp.c
// sha256:<first 12 hex>"), kcp_go a kcp-go peer's release, ignores (optional) the script options its
// interpreter does not apply. The coordinator refuses a peer whose proto is not its own, and a peer
// that says no hello within HelloTimeout, writes a line that is not JSON, or ends first.
//
// Coordinator → peer, and the peer's reply (an unknown op or a failed one gets
// {"op":"error","trial":n,"for":OP,"error":"..."}):
//
//	{"op":"listen","exp":"p003","trial":n,"bind":"198.18.1.1","script":{...}}
//	    bind BIND:0 (bind is optional: 127.0.0.1 when absent), capture it, listen, run the server
//	    role on every accepted session: the script when the request has one (below), else the
//	    experiment's Go role looked up by exp (a kcp-go peer; a peer that runs scripts only answers
//	    {"op":"error","trial":n,"for":"listen","error":"this peer runs scripted roles only"})
//	    → {"op":"ready","trial":n,"addr":"127.0.0.1:P"}
//	{"op":"dial","exp":"p003","trial":n,"server":"127.0.0.1:P","bind":"198.18.1.2","script":{...}}
//	    bind BIND:0 (optional, as for listen), capture it, dial with a random conv, run the client
//	    role (the script, or the Go role) → {"op":"ready","trial":n,"addr":"127.0.0.1:Q","start_ns":T}
//	    (T: the session was created) and, unsolicited, when the role returns: {"op":"returned",
//	    "trial":n,"side":"client","err_class":...,"error":...}
//	{"op":"clock","trial":n}
//	    → {"op":"time","trial":n,"now_ns":T}: the peer's wall clock when it answers, read as it reads
//	    the times of its records. The coordinator sends a few of these (each with an id of its own)
//	    and estimates the peer's clock offset from the round trips (Clock, clock.go), to put every
//	    peer's times on its own clock before it assembles a trace. Optional: a peer that answers
//	    "unknown op" is taken as sharing the coordinator's clock, and its offset is reported as not
//	    measured.
//	{"op":"settle","trial":n,"quiet_ms":300,"deadline_ms":9000}
//	    wait until the first accepted session's role returned (if any was accepted) and then until
//	    the peer's socket has seen no datagram for quiet_ms → {"op":"settled","trial":n} (with
//	    "error" when deadline_ms passed first)
//	{"op":"close","trial":n}
//	    close the client session if the role left it open → {"op":"closed","trial":n,"closed":bool}
//	{"op":"teardown","trial":n}
//	    stop the listener, close every session and the socket, stop capturing
//	    → {"op":"done","trial":n,"accepts":k,"torn_down":[...],"kcp_go":"vX",
//	       "stalls":[{"from_ns":..,"to_ns":..}] (when the peer's process was stalled: machine load),
//	       "datagrams":[{"t_ns":..,"src":"ip:port","dst":"ip:port","b64":".."}],
//	       "events":[{"t_ns":..,"side":"client|server","session":k,"kind":"Read","n":..,
//	                  "data_b64":"..","dur_ns":..,"err_class":"timeout|EOF|closed|other","err":".."}]}
//
// A peer records every datagram its socket sent or received (the coordinator keeps one record of each
// datagram between the two peers: the sender's). Events use the names of EventKind.String: Dial (the
// client session was created), Accept, Read, Write, Close, return (the role ended; its error in
// err_class and err). session numbers a listener's sessions from 1 in accept order (the client's is
// 0, left out); n and data_b64 are the bytes read or written; dur_ns is how long the call blocked;
// err_class is left out for no error, else "timeout", "EOF", "closed" or "other".
//
// A script (package script) is one role as data:
//
//	{"options":{"nodelay":1,"interval_ms":10,"resend":2,"nc":1,"snd_wnd":32,"rcv_wnd":32,"mtu":1400,
//	            "stream":false,"min_rto_ms":30},
//	 "actions":[{"do":"write","data":"handshake"},{"do":"read","deadline_ms":1000}]}
//
// Every option is optional (absent: the implementation's default); nodelay, interval_ms, resend and nc
// come together or not at all, and so do snd_wnd and rcv_wnd. The actions run in order:
//
//	write  "data" (text) or "data_b64": one Write of these bytes → event Write
//	read   "deadline_ms" (0: none), "until_bytes" (0: until a Read fails), "expect", "may_fail": Read
//	       repeatedly, each Read with a fresh deadline, until until_bytes bytes were read in all → one
//	       event Read per Read; a failing Read ends the role with its error unless may_fail; then the
//	       bytes read must equal expect (when given), else the role ends with `expect "X", got "Y"`
//	echo   "deadline_ms": Read (a fresh deadline each time), Write back what was read, until a Read or
//	       Write fails, which ends the role
//	pace   "count", "every_ms", "size", "deadline_ms": write count messages of size bytes, one every
//	       every_ms (the first at once), each starting with its index (4 bytes, big-endian) → one event
//	       Write each, while Reading (a fresh deadline each) until count messages were read → one event
//	       Read each; a failing Read or Write ends the role (the timed echo of KCP's test.cpp: a
//	       message's round trip is its Read event's time less its Write event's)
//	sleep  "ms": wait; the session keeps running
//	flush  flush the session's output (ikcp_flush; kcp-go: nothing, its Write flushes)
//	close  Close the session → event Close (ikcp: flush, stop updating, release)
//
// When the actions end, or one ends the role, the session is closed unless a close action did it,
// then event return carries the role's error.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"kcplab/capture"
	"kcplab/harness"
	"kcplab/internal/kcpgo"
	"kcplab/script"
)

// PeerProto is the protocol's version, in the peer's hello.
const PeerProto = 2

// PeerMsg is one line of the peer protocol, either way.
type PeerMsg struct {
	Op          string         `json:"op"`
	Trial       int64          `json:"trial,omitempty"`
	Exp         string         `json:"exp,omitempty"`
	Server      string         `json:"server,omitempty"`
	Bind        string         `json:"bind,omitempty"`   // listen, dial: the address to bind (absent: 127.0.0.1)
	Script      *script.Script `json:"script,omitempty"` // listen, dial: the role as data
	Addr        string         `json:"addr,omitempty"`
	StartNs     int64          `json:"start_ns,omitempty"`
	NowNs       int64          `json:"now_ns,omitempty"` // time: the peer's clock as it answered a clock request
	QuietMs     int64          `json:"quiet_ms,omitempty"`
	DeadlineMs  int64          `json:"deadline_ms,omitempty"`
	Side        string         `json:"side,omitempty"`
	Closed      bool           `json:"closed,omitempty"`
	Accepts     int            `json:"accepts,omitempty"`
	TornDown    []bool         `json:"torn_down,omitempty"`
	Datagrams   []PeerDatagram `json:"datagrams,omitempty"`
	Events      []PeerEvent    `json:"events,omitempty"`
	Stalls      []PeerStall    `json:"stalls,omitempty"`
	Impl        string         `json:"impl,omitempty"`
	ImplVersion string         `json:"impl_version,omitempty"`
	KCPGo       string         `json:"kcp_go,omitempty"`
	Proto       int            `json:"proto,omitempty"`
	Ignores     []string       `json:"ignores,omitempty"` // hello: script options the peer does not apply
	For         string         `json:"for,omitempty"`     // the request an "error" answers
	ErrClass    string         `json:"err_class,omitempty"`
	Error       string         `json:"error,omitempty"`
}

// PeerDatagram is a datagram a peer's socket sent or received.
type PeerDatagram struct {
	TNs int64  `json:"t_ns"`
	Src string `json:"src"`
	Dst string `json:"dst"`
	B64 []byte `json:"b64"` // base64 in JSON
}

// PeerStall is a stretch of time when the peer's process was stalled (it measures that as the
// harness's load probe does; see timing.go).
type PeerStall struct {
	FromNs int64 `json:"from_ns"`
	ToNs   int64 `json:"to_ns"`
}

// PeerEvent is an application event of a peer's role.
type PeerEvent struct {
	TNs      int64  `json:"t_ns"`
	Side     string `json:"side"`
	Session  int    `json:"session,omitempty"`
	Kind     string `json:"kind"`
	N        int    `json:"n,omitempty"`
	Data     []byte `json:"data_b64,omitempty"`
	DurNs    int64  `json:"dur_ns,omitempty"`
	ErrClass string `json:"err_class,omitempty"` // "" or "ok": no error
	Err      string `json:"err,omitempty"`
}

// replyOp is the op of the reply to each request.
var replyOp = map[string]string{"listen": "ready", "dial": "ready", "settle": "settled", "close": "closed", "teardown": "done", "clock": "time"}

// PeerError is an error a peer reported, rebuilt so that IsTimeout, ErrClass and errors.Is(io.EOF,
// io.ErrClosedPipe, net.ErrClosed) see what they saw in the peer.
type PeerError struct {
	Class harness.Outcome // harness.OutcomeTimeout, OutcomeEOF, OutcomeClosed or OutcomeOther
	Msg   string
}

// Error is the peer's message.
func (e *PeerError) Error() string { return e.Msg }

// Timeout reports whether the peer's call ended by its deadline (net.Error).
func (e *PeerError) Timeout() bool { return e.Class == harness.OutcomeTimeout }

// Temporary is Timeout (net.Error).
func (e *PeerError) Temporary() bool { return e.Class == harness.OutcomeTimeout }

// Is matches io.EOF for OutcomeEOF and io.ErrClosedPipe, net.ErrClosed for OutcomeClosed.
func (e *PeerError) Is(target error) bool {
	switch e.Class {
	case harness.OutcomeEOF:
		return target == io.EOF
	case harness.OutcomeClosed:
		return target == io.ErrClosedPipe || target == net.ErrClosed
	}
	return false
}

// errClassOf is the protocol's class of an error: "", "timeout", "EOF", "closed" or "other".
func errClassOf(err error) string {
	if o := harness.OutcomeOf(err); o != harness.OutcomeOK {
		return o.String()
	}
	return ""
}

// peerErr rebuilds an error from its protocol class and message (nil for no class, "" or "ok"; an
// unknown class is harness.OutcomeOther).
func peerErr(class, msg string) error {
	if class == "" || class == harness.OutcomeOK.String() {
		return nil
	}
	o := harness.OutcomeOther
	for _, c := range []harness.Outcome{harness.OutcomeTimeout, harness.OutcomeEOF, harness.OutcomeClosed} {
		if class == c.String() {
			o = c
		}
	}
	return &PeerError{Class: o, Msg: msg}
}

func errMsg(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// EncodeEvent turns an event into its protocol record.
func EncodeEvent(e harness.Event) PeerEvent {
	return PeerEvent{TNs: e.Time.UnixNano(), Side: e.Side.String(), Session: e.Session, Kind: e.Kind.String(),
		N: e.N, Data: e.Data, DurNs: int64(e.Dur), ErrClass: errClassOf(e.Err), Err: errMsg(e.Err)}
}

// DecodeEvent rebuilds an event from its protocol record.
func DecodeEvent(p PeerEvent) (harness.Event, error) {
	side, err := sideOf(p.Side)
	if err != nil {
		return harness.Event{}, err
	}
	kind, ok := harness.ParseEventKind(p.Kind)
	if !ok {
		return harness.Event{}, fmt.Errorf("unknown event kind %q", p.Kind)
	}
	return harness.Event{Time: time.Unix(0, p.TNs), Side: side, Session: p.Session, Kind: kind, N: p.N, Data: p.Data,
		Dur: time.Duration(p.DurNs), Err: peerErr(p.ErrClass, p.Err)}, nil
}

func sideOf(s string) (harness.Side, error) {
	switch s {
	case "client":
		return harness.Client, nil
	case "server":
		return harness.Server, nil
	}
	return harness.DirUnknown, fmt.Errorf("unknown side %q", s)
}

// EncodeDatagram turns a captured datagram into its protocol record.
func EncodeDatagram(d capture.Datagram) PeerDatagram {
	return PeerDatagram{TNs: d.Time.UnixNano(), Src: d.Src.String(), Dst: d.Dst.String(), B64: d.Payload}
}

// DecodeDatagram rebuilds a datagram from its protocol record (its Side is left unknown).
func DecodeDatagram(p PeerDatagram) (capture.Datagram, error) {
	src, err := netip.ParseAddrPort(p.Src)
	if err != nil {
		return capture.Datagram{}, err
	}
	dst, err := netip.ParseAddrPort(p.Dst)
	if err != nil {
		return capture.Datagram{}, err
	}
	return capture.Datagram{Time: time.Unix(0, p.TNs), Src: src, Dst: dst, Payload: p.B64}, nil
}

// ---- the peer's side ----

// ServePeer runs the peer's side of the protocol on r and w until r ends or ctx is done: it answers
// each request (concurrently, one goroutine per request) with the roles of the experiments lookup
// returns. Whatever trials are left when it returns are torn down.
func ServePeer(ctx context.Context, r io.Reader, w io.Writer, lookup func(id string) (*harness.Experiment, error)) error {
	return ServePeerShifted(ctx, r, w, lookup, 0)
}

// ServePeerShifted is ServePeer for a peer whose clock runs shift ahead of the machine's: every time
// it reports (its records, start_ns, now_ns) is shifted by shift, as a peer on a host whose clock is
// off would report it. It exists to test the coordinator's clock estimate (kcplab peer takes the
// shift from ClockShiftEnv).
func ServePeerShifted(ctx context.Context, r io.Reader, w io.Writer, lookup func(id string) (*harness.Experiment, error), shift time.Duration) error {
	p := &peerServer{w: json.NewEncoder(w), lookup: lookup, trials: map[int64]*peerTrial{}, shift: shift}
	p.send(PeerMsg{Op: "hello", Impl: "kcp-go", ImplVersion: kcpgo.Version(), KCPGo: kcpgo.Version(),
		Proto: PeerProto, Ignores: kcpgo.ScriptIgnores})
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var wg sync.WaitGroup
	lines := make(chan []byte)
	go func() {
		defer close(lines)
		for sc.Scan() {
			lines <- append([]byte(nil), sc.Bytes()...)
		}
	}()
	defer func() {
		wg.Wait()
		p.mu.Lock()
		left := p.trials
		p.trials = nil
		p.mu.Unlock()
		for _, t := range left {
			t.teardown()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case line, ok := <-lines:
			if !ok {
				return sc.Err()
			}
			var m PeerMsg
			if err := json.Unmarshal(line, &m); err != nil {
				// Answer for the request's op and trial when they can be read (a bad script).
				var id struct {
					Op    string `json:"op"`
					Trial int64  `json:"trial"`
				}
				_ = json.Unmarshal(line, &id)
				p.send(PeerMsg{Op: "error", Trial: id.Trial, For: id.Op, Error: fmt.Sprintf("bad request %q: %v", line, err)})
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if reply := p.handle(m); reply.Op != "" {
					p.send(reply)
				}
			}()
		}
	}
}

type peerServer struct {
	wmu    sync.Mutex
	w      *json.Encoder
	lookup func(string) (*harness.Experiment, error)
	mu     sync.Mutex
	trials map[int64]*peerTrial
	shift  time.Duration // added to every time reported (ServePeerShifted)
}

func (p *peerServer) send(m PeerMsg) {
	m = shiftTimes(m, p.shift)
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if err := p.w.Encode(m); err != nil {
		fmt.Fprintf(os.Stderr, "peer: writing %s: %v\n", m.Op, err)
	}
}

// peerTrial is one role of one trial in a peer: its socket, the tap that records it, and the trial
// lifecycle's steps (harness.Lifecycle) for the end it runs.
type peerTrial struct {
	lc   *harness.Lifecycle
	udp  *net.UDPConn // nil until the role listens or dials
	tap  *capture.TapSource
	once sync.Once
	done PeerMsg
}

// newPeerTrial begins one role of a trial of e.
func newPeerTrial(e *harness.Experiment) (*peerTrial, error) {
	tap := capture.NewTap()
	lc, err := harness.NewLifecycle(e, tap)
	if err != nil {
		return nil, err
	}
	return &peerTrial{lc: lc, tap: tap}, nil
}

func (p *peerServer) handle(m PeerMsg) PeerMsg {
	fail := func(err error) PeerMsg {
		return PeerMsg{Op: "error", Trial: m.Trial, For: m.Op, Error: err.Error()}
	}
	switch m.Op {
	case "listen", "dial":
		e, err := p.experiment(m)
		if err != nil {
			return fail(err)
		}
		if m.Op == "dial" && e.ClientRole() == nil {
			return fail(fmt.Errorf("experiment %s has no client role", e.ID))
		}
		pt, err := newPeerTrial(e)
		if err != nil {
			return fail(err)
		}
		p.mu.Lock()
		if p.trials == nil || p.trials[m.Trial] != nil {
			p.mu.Unlock()
			pt.teardown()
			return fail(fmt.Errorf("trial %d already exists", m.Trial))
		}
		p.trials[m.Trial] = pt
		p.mu.Unlock()
		var reply PeerMsg
		if m.Op == "listen" {
			reply, err = pt.listen(e, m.Bind)
		} else {
			reply, err = pt.dial(m.Server, m.Bind, func(err error) {
				p.send(PeerMsg{Op: "returned", Trial: m.Trial, Side: "client", ErrClass: errClassOf(err), Error: errMsg(err)})
			})
		}
		if err != nil {
			// Nothing of a role that did not start is kept: the coordinator sends no teardown for it.
			p.mu.Lock()
			delete(p.trials, m.Trial)
			p.mu.Unlock()
			pt.teardown()
			return fail(err)
		}
		reply.Trial = m.Trial
		return reply
	case "clock":
		return PeerMsg{Op: "time", Trial: m.Trial, NowNs: time.Now().UnixNano()}
	case "settle", "close", "teardown":
		p.mu.Lock()
		pt := p.trials[m.Trial]
		if m.Op == "teardown" {
			delete(p.trials, m.Trial)
		}
		p.mu.Unlock()
		if pt == nil {
			return fail(fmt.Errorf("no trial %d", m.Trial))
		}
		switch m.Op {
		case "settle":
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(m.DeadlineMs)*time.Millisecond)
			defer cancel()
			if err := pt.lc.Settle(ctx, time.Duration(m.QuietMs)*time.Millisecond); err != nil {
				return PeerMsg{Op: "settled", Trial: m.Trial, Error: err.Error()}
			}
			return PeerMsg{Op: "settled", Trial: m.Trial}
		case "close":
			return PeerMsg{Op: "closed", Trial: m.Trial, Closed: pt.lc.Close()}
		default:
			reply := pt.teardown()
			reply.Trial = m.Trial
			return reply
		}
	}
	return fail(fmt.Errorf("unknown op %q", m.Op))
}

// experiment is what a listen or dial runs: the experiment exp names, with the request's script as
// its role when there is one. A script needs no experiment this peer knows: then the role runs with
// the harness's defaults (plain transport).
func (p *peerServer) experiment(m PeerMsg) (*harness.Experiment, error) {
	e, err := p.lookup(m.Exp)
	if m.Script == nil {
		return e, err
	}
	if err := m.Script.Validate(); err != nil {
		return nil, err
	}
	v := harness.Experiment{ID: m.Exp}
	if err == nil {
		v = *e
	}
	if m.Op == "listen" {
		v.Server, v.ServerSession, v.ServerScript = nil, nil, m.Script
	} else {
		v.Client, v.ClientSession, v.ClientScript = nil, nil, m.Script
	}
	return &v, nil
}

// bind opens the role's socket on addr (an IP address; "": 127.0.0.1) with a port the kernel chooses.
func (pt *peerTrial) bind(addr string) error {
	if addr == "" {
		udp, _, err := harness.ListenLoopback()
		if err != nil {
			return err
		}
		pt.udp = udp
		return nil
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return fmt.Errorf("bind address: %w", err)
	}
	network := "udp4"
	if !ip.Is4() {
		network = "udp6"
	}
	udp, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		return err
	}
	pt.udp = udp
	return nil
}

// listen is the Listen step on a fresh socket bound to bind.
func (pt *peerTrial) listen(e *harness.Experiment, bind string) (PeerMsg, error) {
	if e.ServerRole() == nil || e.NoListener || !e.Link.IsZero() {
		return PeerMsg{}, fmt.Errorf("experiment %s cannot run in peers (no server role, no listener, or a link)", e.ID)
	}
	if err := pt.bind(bind); err != nil {
		return PeerMsg{}, err
	}
	if err := pt.lc.Listen(pt.tap.Wrap(pt.udp, harness.Server)); err != nil {
		return PeerMsg{}, err
	}
	return PeerMsg{Op: "ready", Addr: pt.udp.LocalAddr().String()}, nil
}

// dial is the Dial step on a fresh socket bound to bind; returned is called with what the Client
// role returned.
func (pt *peerTrial) dial(server, bind string, returned func(error)) (PeerMsg, error) {
	srv, err := netip.ParseAddrPort(server)
	if err != nil {
		return PeerMsg{}, fmt.Errorf("server address: %w", err)
	}
	if err := pt.bind(bind); err != nil {
		return PeerMsg{}, err
	}
	start, err := pt.lc.Dial(srv, pt.tap.Wrap(pt.udp, harness.Client))
	if err != nil {
		return PeerMsg{}, err
	}
	go func() {
		_, err := pt.lc.WaitClient(context.Background())
		returned(err)
	}()
	return PeerMsg{Op: "ready", Addr: pt.udp.LocalAddr().String(), StartNs: start.UnixNano()}, nil
}

// teardown closes everything of the trial (once) and returns its records: the client session if its
// role left it open (waiting a while for the role), the listener and its sessions, the socket.
func (pt *peerTrial) teardown() PeerMsg {
	pt.once.Do(func() {
		pt.lc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		pt.lc.WaitClient(ctx)
		cancel()
		ended := pt.lc.Teardown()
		if pt.udp != nil {
			pt.udp.Close()
		}
		m := PeerMsg{Op: "done", KCPGo: kcpgo.Version(), Accepts: ended.Accepts, TornDown: ended.TornDown}
		_, _ = pt.tap.Close()
		for _, d := range pt.tap.Datagrams() {
			m.Datagrams = append(m.Datagrams, EncodeDatagram(d))
		}
		for _, e := range ended.Events {
			m.Events = append(m.Events, EncodeEvent(e))
		}
		for _, st := range pt.lc.StopProbe() {
			m.Stalls = append(m.Stalls, PeerStall{FromNs: st.From.UnixNano(), ToNs: st.To.UnixNano()})
		}
		pt.done = m
	})
	return pt.done
}

// ---- the coordinator's side ----

// Peer is a peer process (or stream) the harness drives.
type Peer struct {
	Hello PeerMsg // the peer's hello: its implementation and version
	// Bind is the address the peer's sockets bind to (its listen and dial requests' bind; "": the
	// protocol's default, 127.0.0.1), and Host names where the peer runs (a network namespace; "":
	// this host). Set them before the peer's first trial.
	Bind, Host string

	clockMu sync.Mutex
	clock   Clock // MeasureClock's last estimate

	wmu   sync.Mutex
	w     io.WriteCloser
	r     io.Reader
	mu    sync.Mutex
	boxes map[string]chan PeerMsg // by trial id and reply op
	dead  chan struct{}           // closed when the peer's output ended
	err   error                   // why (set before dead is closed)
	stop  func() error
	once  sync.Once
	cerr  error // what Close returned
}

// HelloTimeout bounds the wait for a peer's hello.
var HelloTimeout = 20 * time.Second

// stopGrace is how long a peer process has to end once its input is closed, before it is killed.
const stopGrace = 5 * time.Second

// StartPeer starts cmd (e.g. `kcplab peer`) as a peer: its stdin and stdout carry the protocol, its
// stderr is left as cmd has it. Close ends it. A peer that cannot start, ends or writes anything but
// JSON before its hello, says no hello within HelloTimeout, or speaks another protocol version is an
// error, and nothing of it is left running: a process that does not end within 5 s of its input's
// end is killed, with the processes it started (on Linux).
func StartPeer(cmd *exec.Cmd) (*Peer, error) { return startPeer(cmd, HelloTimeout, stopGrace) }

// StartPeerWithin is StartPeer with another bound on the wait for the hello and on the time the
// process has to end once its input is closed, before it is killed (0: HelloTimeout, 5 s).
func StartPeerWithin(cmd *exec.Cmd, hello, grace time.Duration) (*Peer, error) {
	if hello <= 0 {
		hello = HelloTimeout
	}
	if grace <= 0 {
		grace = stopGrace
	}
	return startPeer(cmd, hello, grace)
}

// startPeer is StartPeer with the hello's bound and the grace a process gets to end before it is killed.
func startPeer(cmd *exec.Cmd, helloTimeout, grace time.Duration) (*Peer, error) {
	name := strings.Join(cmd.Args, " ")
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("peer %s: %w", name, err)
	}
	// A pipe of our own, not StdoutPipe: Wait, which runs as soon as the process exits, would close
	// StdoutPipe's read end under the reader, before it read everything.
	out, outW, err := os.Pipe()
	if err != nil {
		in.Close()
		return nil, fmt.Errorf("peer %s: %w", name, err)
	}
	cmd.Stdout = outW
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = grace // a child the process left holding its stderr does not hold up Wait
	}
	err = cmd.Start()
	outW.Close() // the process has its copy
	if err != nil {
		in.Close()
		out.Close()
		return nil, fmt.Errorf("peer %s: %w", name, err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	stop := func() error {
		in.Close() // the peer ends when its input does
		select {
		case err := <-waited:
			return err
		case <-time.After(grace):
			killTree(cmd.Process)
			err := <-waited
			return fmt.Errorf("did not end within %v of its input's end, killed (%v)", grace, err)
		}
	}
	p, err := newPeer(out, in, stop, helloTimeout)
	if err != nil {
		return nil, fmt.Errorf("peer %s: %w", name, err)
	}
	return p, nil
}

// NewPeer speaks the protocol over r (the peer's output) and w (its input); stop, if not nil, is
// called by Close after w is closed. It waits for the peer's hello (HelloTimeout).
func NewPeer(r io.Reader, w io.WriteCloser, stop func() error) (*Peer, error) {
	return newPeer(r, w, stop, HelloTimeout)
}

func newPeer(r io.Reader, w io.WriteCloser, stop func() error, helloTimeout time.Duration) (*Peer, error) {
	p := &Peer{w: w, r: r, boxes: map[string]chan PeerMsg{}, dead: make(chan struct{}), stop: stop}
	hello := make(chan PeerMsg, 1)
	go p.readLoop(r, hello)
	timer := time.NewTimer(helloTimeout)
	defer timer.Stop()
	select {
	case h := <-hello:
		if h.Proto != PeerProto {
			p.Close()
			return nil, fmt.Errorf("%s %s speaks peer protocol %d, and this kcplab speaks %d: "+
				"build the peer from the same protocol (peer/peer.go)", orUnnamed(h.Impl), h.ImplVersion, h.Proto, PeerProto)
		}
		p.Hello = h
		return p, nil
	case <-p.dead:
		cerr := p.Close()
		why := p.err.Error()
		if cerr != nil {
			why += "; " + cerr.Error()
		}
		return nil, fmt.Errorf("no hello from the peer: %s", why)
	case <-timer.C:
		cerr := p.Close()
		msg := fmt.Sprintf("no hello from the peer within %v", helloTimeout)
		if cerr != nil {
			msg += "; " + cerr.Error()
		}
		return nil, errors.New(msg)
	}
}

func orUnnamed(impl string) string {
	if impl == "" {
		return "the peer (no impl in its hello)"
	}
	return impl
}

// errOutputEnded is why a peer ended when its output simply ended (the process exited, or closed it).
var errOutputEnded = fmt.Errorf("its output ended (%w)", io.EOF)

// readLoop reads the peer's messages into their mailboxes until its output ends or is not the
// protocol: the first message must be the hello, every line a JSON object.
func (p *Peer) readLoop(r io.Reader, hello chan<- PeerMsg) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	first := true
	for sc.Scan() {
		var m PeerMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			p.err = fmt.Errorf("malformed JSON from the peer: %v, in %q", err, harness.Clip(sc.Bytes(), 200))
			break
		}
		op := m.Op
		if first && op != "hello" {
			p.err = fmt.Errorf("the peer's first message is %q, not its hello: %q", op, harness.Clip(sc.Bytes(), 200))
			break
		}
		first = false
		switch op {
		case "hello":
			select {
			case hello <- m:
			default:
			}
			continue
		case "error":
			op = replyOp[m.For]
		}
		p.box(m.Trial, op) <- m
	}
	if p.err == nil {
		p.err = sc.Err()
		if p.err == nil {
			p.err = errOutputEnded
		}
	}
	close(p.dead)
}

// box is the mailbox of one trial's replies of one op.
func (p *Peer) box(trial int64, op string) chan PeerMsg {
	k := fmt.Sprint(trial, op)
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.boxes[k]
	if b == nil {
		b = make(chan PeerMsg, 8)
		p.boxes[k] = b
	}
	return b
}

// forget drops a trial's mailboxes.
func (p *Peer) forget(trial int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for op := range replyOp {
		delete(p.boxes, fmt.Sprint(trial, replyOp[op]))
	}
	delete(p.boxes, fmt.Sprint(trial, "returned"))
}

// RunsGoRoles reports whether the peer runs an experiment's Go roles by its id: a kcp-go peer (kcplab
// peer) does; a peer of another implementation runs scripted roles only.
func (p *Peer) RunsGoRoles() bool { return p.Hello.Impl == "kcp-go" }

// Ident is the peer's implementation and version as its hello gives them.
func (p *Peer) Ident() *harness.PeerIdent {
	id := &harness.PeerIdent{Impl: p.Hello.Impl, ImplVersion: p.Hello.ImplVersion, KCPGo: p.Hello.KCPGo, Host: p.Host, Bind: p.Bind}
	if c := p.Clock(); c.Samples > 0 {
		id.Clock = &harness.PeerClock{OffsetNs: int64(c.Offset), UncertaintyNs: int64(c.Uncertainty),
			CorrectionNs: int64(c.Correction()), Samples: c.Samples}
	}
	return id
}

// Label is how a pair's results name the peer: a kcp-go peer by its release (its hello's kcp_go),
// another by Name.
func (p *Peer) Label() string {
	if p.RunsGoRoles() && p.Hello.KCPGo != "" {
		return p.Hello.KCPGo
	}
	return p.Name()
}

// Name is the peer's implementation and version, from its hello.
func (p *Peer) Name() string {
	if p.Hello.ImplVersion == "" {
		return p.Hello.Impl
	}
	return p.Hello.Impl + " " + p.Hello.ImplVersion
}

// Send writes one request.
func (p *Peer) Send(m PeerMsg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, err = p.w.Write(append(b, '\n'))
	return err
}

// Await waits for the message of op about trial ("error" replies come as the reply they stand for,
// and are returned as an error).
func (p *Peer) Await(ctx context.Context, trial int64, op string) (PeerMsg, error) {
	select {
	case m := <-p.box(trial, op):
		if m.Op == "error" {
			return m, fmt.Errorf("peer: %s: %s", m.For, m.Error)
		}
		return m, nil
	case <-p.dead:
		return PeerMsg{}, fmt.Errorf("the peer is gone: %v", p.err)
	case <-ctx.Done():
		return PeerMsg{}, fmt.Errorf("no %q from the peer for trial %d: %w", op, trial, ctx.Err())
	}
}

// Call sends a request and waits for its reply.
func (p *Peer) Call(ctx context.Context, m PeerMsg) (PeerMsg, error) {
	op, ok := replyOp[m.Op]
	if !ok {
		return PeerMsg{}, fmt.Errorf("unknown op %q", m.Op)
	}
	if err := p.Send(m); err != nil {
		return PeerMsg{}, err
	}
	return p.Await(ctx, m.Trial, op)
}

// Close ends the peer: closes its input and waits for it (killing a process that does not end), then
// for the end of its output, which it closes if it can. It returns what stop returned (the process's
// exit); later calls return the same.
func (p *Peer) Close() error {
	p.once.Do(func() {
		p.cerr = p.w.Close()
		if p.stop != nil {
			p.cerr = p.stop()
		}
		if c, ok := p.r.(io.Closer); ok {
			_ = c.Close()
		}
		select {
		case <-p.dead:
		case <-time.After(stopGrace):
			// A reader that neither ends nor closes: its goroutine is left to it.
		}
	})
	return p.cerr
}
