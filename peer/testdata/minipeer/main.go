// Command minipeer is a peer written from the README's section "Writing a peer for another
// implementation" alone: kcp-go sessions, scripted roles only, nothing of kcplab. The tests of package
// peer build it and check that it passes the conformance check. -break makes it break the protocol
// on purpose: "proto" says hello with protocol 1, "datagrams" leaves the datagrams it received out
// of its records.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"
)

var breakIt = flag.String("break", "", `break the protocol: "proto" or "datagrams"`)

// ---- the lines ----

type options struct {
	NoDelay    *int  `json:"nodelay"`
	IntervalMs *int  `json:"interval_ms"`
	Resend     *int  `json:"resend"`
	NC         *int  `json:"nc"`
	SndWnd     *int  `json:"snd_wnd"`
	RcvWnd     *int  `json:"rcv_wnd"`
	MTU        *int  `json:"mtu"`
	Stream     *bool `json:"stream"`
	MinRTOMs   *int  `json:"min_rto_ms"`
}

type action struct {
	Do         string `json:"do"`
	Data       string `json:"data"`
	DataB64    []byte `json:"data_b64"`
	DeadlineMs int    `json:"deadline_ms"`
	UntilBytes int    `json:"until_bytes"`
	Expect     string `json:"expect"`
	MayFail    bool   `json:"may_fail"`
	Ms         int    `json:"ms"`
}

type script struct {
	Options options  `json:"options"`
	Actions []action `json:"actions"`
}

type request struct {
	Op         string  `json:"op"`
	Trial      int64   `json:"trial"`
	Server     string  `json:"server"`
	Script     *script `json:"script"`
	QuietMs    int64   `json:"quiet_ms"`
	DeadlineMs int64   `json:"deadline_ms"`
}

type datagram struct {
	TNs int64  `json:"t_ns"`
	Src string `json:"src"`
	Dst string `json:"dst"`
	B64 []byte `json:"b64"`
}

type event struct {
	TNs      int64  `json:"t_ns"`
	Side     string `json:"side"`
	Session  int    `json:"session,omitempty"`
	Kind     string `json:"kind"`
	N        int    `json:"n,omitempty"`
	Data     []byte `json:"data_b64,omitempty"`
	DurNs    int64  `json:"dur_ns,omitempty"`
	ErrClass string `json:"err_class,omitempty"`
	Err      string `json:"err,omitempty"`
}

type reply struct {
	Op        string     `json:"op"`
	Trial     int64      `json:"trial,omitempty"`
	For       string     `json:"for,omitempty"`
	Addr      string     `json:"addr,omitempty"`
	StartNs   int64      `json:"start_ns,omitempty"`
	Side      string     `json:"side,omitempty"`
	Closed    bool       `json:"closed,omitempty"`
	Accepts   int        `json:"accepts,omitempty"`
	TornDown  []bool     `json:"torn_down,omitempty"`
	Datagrams []datagram `json:"datagrams,omitempty"`
	Events    []event    `json:"events,omitempty"`
	ErrClass  string     `json:"err_class,omitempty"`
	Error     string     `json:"error,omitempty"`
	// hello
	Impl        string `json:"impl,omitempty"`
	ImplVersion string `json:"impl_version,omitempty"`
	Proto       int    `json:"proto,omitempty"`
}

var (
	outMu sync.Mutex
	out   = json.NewEncoder(os.Stdout)
)

func send(r reply) {
	outMu.Lock()
	defer outMu.Unlock()
	if err := out.Encode(r); err != nil {
		fmt.Fprintln(os.Stderr, "minipeer:", err)
	}
}

func main() {
	flag.Parse()
	proto := 2
	if *breakIt == "proto" {
		proto = 1
	}
	send(reply{Op: "hello", Impl: "minipeer", ImplVersion: "0.1 (kcp-go)", Proto: proto})
	trials := &registry{m: map[int64]*trial{}}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	var wg sync.WaitGroup
	for sc.Scan() {
		var req request
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			send(reply{Op: "error", Error: err.Error()})
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := trials.handle(req)
			if err != nil {
				r = reply{Op: "error", For: req.Op, Error: err.Error()}
			}
			r.Trial = req.Trial
			send(r)
		}()
	}
	wg.Wait()
	trials.teardownAll()
}

// ---- trials ----

type registry struct {
	mu sync.Mutex
	m  map[int64]*trial
}

func (g *registry) handle(req request) (reply, error) {
	switch req.Op {
	case "listen", "dial":
		if req.Script == nil {
			return reply{}, errors.New("this peer runs scripted roles only")
		}
		t, err := newTrial()
		if err != nil {
			return reply{}, err
		}
		var r reply
		if req.Op == "listen" {
			r, err = t.listen(req.Script)
		} else {
			r, err = t.dial(req.Server, req.Script, req.Trial)
		}
		if err != nil {
			t.teardown()
			return reply{}, err
		}
		g.mu.Lock()
		g.m[req.Trial] = t
		g.mu.Unlock()
		return r, nil
	case "settle", "close", "teardown":
		g.mu.Lock()
		t := g.m[req.Trial]
		if req.Op == "teardown" {
			delete(g.m, req.Trial)
		}
		g.mu.Unlock()
		if t == nil {
			return reply{}, fmt.Errorf("no trial %d", req.Trial)
		}
		switch req.Op {
		case "settle":
			return t.settle(time.Duration(req.QuietMs)*time.Millisecond, time.Duration(req.DeadlineMs)*time.Millisecond), nil
		case "close":
			return reply{Op: "closed", Closed: t.closeClient()}, nil
		}
		return t.teardown(), nil
	}
	return reply{}, fmt.Errorf("unknown op %q", req.Op)
}

func (g *registry) teardownAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, t := range g.m {
		t.teardown()
	}
}

// trial is one role of one trial: its socket (recorded), its listener or its dialed session.
type trial struct {
	sock *recorder

	mu        sync.Mutex
	events    []event
	ln        *kcp.Listener
	sessions  []*session
	client    *session
	firstDone chan struct{} // closed when the first accepted session's script ended
	scripts   sync.WaitGroup
	acceptEnd chan struct{}
}

type session struct {
	s        *kcp.UDPSession
	side     string
	num      int
	closed   bool
	returned bool
}

func newTrial() (*trial, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	return &trial{sock: &recorder{conn: c, activity: make(chan struct{}, 1)}, firstDone: make(chan struct{})}, nil
}

func (t *trial) record(s *session, kind string, start time.Time, data []byte, err error) {
	now := time.Now()
	e := event{TNs: now.UnixNano(), Side: s.side, Session: s.num, Kind: kind, N: len(data), Data: append([]byte(nil), data...),
		DurNs: int64(now.Sub(start))}
	if err != nil {
		e.ErrClass, e.Err = errClass(err), err.Error()
	}
	t.mu.Lock()
	t.events = append(t.events, e)
	t.mu.Unlock()
}

func errClass(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF):
		return "EOF"
	case errors.Is(err, io.ErrClosedPipe), errors.Is(err, net.ErrClosed):
		return "closed"
	}
	return "other"
}

func (t *trial) listen(sc *script) (reply, error) {
	ln, err := kcp.ServeConn(nil, 0, 0, t.sock)
	if err != nil {
		return reply{}, err
	}
	t.ln = ln
	t.acceptEnd = make(chan struct{})
	go func() {
		defer close(t.acceptEnd)
		for {
			s, err := ln.AcceptKCP()
			if err != nil {
				return
			}
			t.mu.Lock()
			ss := &session{s: s, side: "server", num: len(t.sessions) + 1}
			t.sessions = append(t.sessions, ss)
			t.mu.Unlock()
			t.record(ss, "Accept", time.Now(), nil, nil)
			t.scripts.Add(1)
			go func() {
				defer t.scripts.Done()
				t.run(ss, sc)
				if ss.num == 1 {
					close(t.firstDone)
				}
			}()
		}
	}()
	return reply{Op: "ready", Addr: t.sock.LocalAddr().String()}, nil
}

func (t *trial) dial(server string, sc *script, id int64) (reply, error) {
	raddr, err := net.ResolveUDPAddr("udp4", server)
	if err != nil {
		return reply{}, err
	}
	s, err := kcp.NewConn4(rand.Uint32(), raddr, nil, 0, 0, false, t.sock)
	start := time.Now()
	if err != nil {
		return reply{}, err
	}
	cs := &session{s: s, side: "client"}
	t.mu.Lock()
	t.client = cs
	t.mu.Unlock()
	t.record(cs, "Dial", start, nil, nil)
	t.scripts.Add(1)
	go func() {
		defer t.scripts.Done()
		err := t.run(cs, sc)
		r := reply{Op: "returned", Trial: id, Side: "client"}
		if err != nil {
			r.ErrClass, r.Error = errClass(err), err.Error()
		}
		send(r)
	}()
	return reply{Op: "ready", Addr: t.sock.LocalAddr().String(), StartNs: start.UnixNano()}, nil
}

func (t *trial) close(s *session) {
	t.mu.Lock()
	if s.closed {
		t.mu.Unlock()
		return
	}
	s.closed = true
	t.mu.Unlock()
	start := time.Now()
	err := s.s.Close()
	t.record(s, "Close", start, nil, err)
}

// run runs a script on a session: its options, its actions, the Close if none closed it, "return".
func (t *trial) run(s *session, sc *script) (err error) {
	o := sc.Options
	if o.NoDelay != nil && o.IntervalMs != nil && o.Resend != nil && o.NC != nil {
		s.s.SetNoDelay(*o.NoDelay, *o.IntervalMs, *o.Resend, *o.NC)
	}
	if o.SndWnd != nil && o.RcvWnd != nil {
		s.s.SetWindowSize(*o.SndWnd, *o.RcvWnd)
	}
	if o.MTU != nil {
		s.s.SetMtu(*o.MTU)
	}
	if o.Stream != nil {
		s.s.SetStreamMode(*o.Stream)
	}
	defer func() {
		t.close(s)
		t.record(s, "return", time.Now(), nil, err)
		t.mu.Lock()
		s.returned = true
		t.mu.Unlock()
	}()
	buf := make([]byte, 4096)
	read := func(deadlineMs int) ([]byte, error) {
		if deadlineMs > 0 {
			s.s.SetReadDeadline(time.Now().Add(time.Duration(deadlineMs) * time.Millisecond))
		} else {
			s.s.SetReadDeadline(time.Time{})
		}
		start := time.Now()
		n, err := s.s.Read(buf)
		t.record(s, "Read", start, buf[:n], err)
		return buf[:n], err
	}
	write := func(b []byte) error {
		start := time.Now()
		n, err := s.s.Write(b)
		t.record(s, "Write", start, b[:n], err)
		return err
	}
	for _, a := range sc.Actions {
		switch a.Do {
		case "write":
			b := a.DataB64
			if b == nil {
				b = []byte(a.Data)
			}
			if err := write(b); err != nil {
				return err
			}
		case "read":
			var got []byte
			for a.UntilBytes == 0 || len(got) < a.UntilBytes {
				b, err := read(a.DeadlineMs)
				got = append(got, b...)
				if err != nil {
					if !a.MayFail {
						return err
					}
					break
				}
			}
			if a.Expect != "" && string(got) != a.Expect {
				return fmt.Errorf("expect %q, got %q", a.Expect, got)
			}
		case "echo":
			for {
				b, err := read(a.DeadlineMs)
				if err != nil {
					return err
				}
				if err := write(b); err != nil {
					return err
				}
			}
		case "sleep":
			time.Sleep(time.Duration(a.Ms) * time.Millisecond)
		case "flush":
			// kcp-go's Write has flushed already.
		case "close":
			t.close(s)
		default:
			return fmt.Errorf("unknown action %q", a.Do)
		}
	}
	return nil
}

func (t *trial) settle(quiet, deadline time.Duration) reply {
	timeout := time.After(deadline)
	t.mu.Lock()
	accepted := len(t.sessions) > 0
	t.mu.Unlock()
	if accepted {
		select {
		case <-t.firstDone:
		case <-timeout:
			return reply{Op: "settled", Error: "the first session's script is still running"}
		}
	}
	timer := time.NewTimer(quiet)
	defer timer.Stop()
	for {
		select {
		case <-t.sock.activity:
			timer.Reset(quiet)
		case <-timer.C:
			return reply{Op: "settled"}
		case <-timeout:
			return reply{Op: "settled", Error: "the socket never went quiet"}
		}
	}
}

func (t *trial) closeClient() bool {
	t.mu.Lock()
	c := t.client
	t.mu.Unlock()
	if c == nil {
		return false
	}
	t.mu.Lock()
	open := !c.closed
	t.mu.Unlock()
	t.close(c)
	return open
}

func (t *trial) teardown() reply {
	if t.ln != nil {
		t.ln.Close()
		<-t.acceptEnd
	}
	t.mu.Lock()
	sessions := append([]*session(nil), t.sessions...)
	tornDown := make([]bool, len(sessions))
	for i, s := range sessions {
		tornDown[i] = !s.returned
	}
	client := t.client
	t.mu.Unlock()
	for _, s := range sessions {
		t.close(s)
	}
	if client != nil {
		t.close(client)
	}
	t.scripts.Wait()
	t.sock.conn.Close()
	t.mu.Lock()
	defer t.mu.Unlock()
	r := reply{Op: "done", Accepts: len(sessions), TornDown: tornDown, Events: t.events}
	for _, d := range t.sock.taken() {
		if *breakIt == "datagrams" && d.Src != t.sock.LocalAddr().String() {
			continue
		}
		r.Datagrams = append(r.Datagrams, d)
	}
	return r
}

// ---- the socket, recorded ----

// recorder is the trial's socket, recording every datagram it sends or receives. It has only the
// methods of net.PacketConn: kcp-go sends and receives through them one datagram at a time (given the
// bare *net.UDPConn, it would use batch system calls that bypass the record).
type recorder struct {
	conn     *net.UDPConn
	activity chan struct{}
	mu       sync.Mutex
	log      []datagram
}

func (r *recorder) add(src, dst net.Addr, p []byte) {
	r.mu.Lock()
	r.log = append(r.log, datagram{TNs: time.Now().UnixNano(), Src: src.String(), Dst: dst.String(), B64: append([]byte(nil), p...)})
	r.mu.Unlock()
	select {
	case r.activity <- struct{}{}:
	default:
	}
}

func (r *recorder) taken() []datagram {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.log
}

func (r *recorder) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := r.conn.ReadFrom(p)
	if err == nil {
		r.add(addr, r.conn.LocalAddr(), p[:n])
	}
	return n, addr, err
}

func (r *recorder) WriteTo(p []byte, addr net.Addr) (int, error) {
	n, err := r.conn.WriteTo(p, addr)
	if err == nil {
		r.add(r.conn.LocalAddr(), addr, p[:n])
	}
	return n, err
}

func (r *recorder) Close() error                       { return r.conn.Close() }
func (r *recorder) LocalAddr() net.Addr                { return r.conn.LocalAddr() }
func (r *recorder) SetDeadline(t time.Time) error      { return r.conn.SetDeadline(t) }
func (r *recorder) SetReadDeadline(t time.Time) error  { return r.conn.SetReadDeadline(t) }
func (r *recorder) SetWriteDeadline(t time.Time) error { return r.conn.SetWriteDeadline(t) }
