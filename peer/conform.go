package peer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"slices"
	"sort"
	"sync"
	"time"

	"kcplab/harness"
	"kcplab/kcpwire"
	"kcplab/script"
)

// Conformance: whether a peer command speaks the protocol of peer.go's header. Conform starts it and
// runs trials of a scripted exchange like p003-linger's between it and a kcp-go peer in this process,
// the peer under test as the server, then as the client, then in both roles at once, and checks every
// reply: ops, trial ids, addresses, the datagrams recorded (every one sent and received, each a KCP
// datagram) and the events (in the protocol's vocabulary, those the scripts make).

// Violation is one way a peer broke the protocol.
type Violation struct {
	Step string // where: "hello", "listen (peer as server)", "done (peer as client)", "end", ...
	Msg  string
}

// String is "step: what was wrong".
func (v Violation) String() string { return v.Step + ": " + v.Msg }

// The roles of Conform's trials: the client writes a request, the server answers it; each lingers in
// a Read that may time out before it closes (p003-linger's way), so that every datagram gets out.
const (
	conformRequest  = "handshake"
	conformResponse = "2026-01-02 15:04:05.123456789 +0000 UTC m=+0.000000001"
)

// ConformScripts returns the server's and the client's script of Conform's trials.
func ConformScripts() (server, client *script.Script) {
	return &script.Script{
			Options: script.Options{MTU: new(1400)},
			Actions: []script.Action{
				{Do: script.DoRead, DeadlineMs: 2000, UntilBytes: len(conformRequest), Expect: conformRequest},
				{Do: script.DoWrite, Data: conformResponse},
				{Do: script.DoFlush},
				{Do: script.DoRead, DeadlineMs: 300, MayFail: true},
				{Do: script.DoClose},
			}}, &script.Script{Actions: []script.Action{
			{Do: script.DoSleep, Ms: 20},
			{Do: script.DoWrite, Data: conformRequest},
			{Do: script.DoRead, DeadlineMs: 2000, UntilBytes: len(conformResponse), Expect: conformResponse},
			{Do: script.DoRead, DeadlineMs: 200, MayFail: true},
		}}
}

// conformExperiment is the experiment of Conform's trials.
func conformExperiment() *harness.Experiment {
	srv, cli := ConformScripts()
	return &harness.Experiment{ID: "conform", Title: "a request, its answer, both linger and close",
		ServerScript: srv, ClientScript: cli, Timeout: 5 * time.Second}
}

// Conform starts cmd as a peer, checks that it speaks the protocol (ConformPeer), and that it ends
// when its input does. It returns every violation found: none when the peer conforms.
func Conform(ctx context.Context, cmd *exec.Cmd) []Violation {
	return conform(ctx, cmd, HelloTimeout)
}

func conform(ctx context.Context, cmd *exec.Cmd, helloTimeout time.Duration) []Violation {
	p, err := startPeer(cmd, helloTimeout, stopGrace)
	if err != nil {
		return []Violation{{"hello", err.Error()}}
	}
	vs := ConformPeer(ctx, p)
	if err := p.Close(); err != nil {
		vs = append(vs, Violation{"end", fmt.Sprintf("once its input ended: %v (a peer exits with status 0 when its stdin ends)", err)})
	}
	return vs
}

// ConformPeer checks a started peer (its hello already accepted): an unknown op and a request about no
// trial get errors, and a listen without a script of an experiment nobody knows gets an error; then
// trials of ConformScripts' exchange with a kcp-go peer in this process, the peer under test as
// the server, as the client, then in both roles at once, each reply checked.
func ConformPeer(ctx context.Context, p *Peer) []Violation {
	c := &checker{}
	h := p.Hello
	switch {
	case h.Op != "hello":
		c.add("hello", "op %q", h.Op)
	case h.Impl == "":
		c.add("hello", `no "impl": the implementation's name`)
	case h.ImplVersion == "":
		c.add("hello", `no "impl_version": the implementation's version`)
	}
	c.errorReplies(ctx, p)

	ref, closeRef, err := referencePeer()
	if err != nil {
		c.add("setup", "the kcp-go peer in this process: %v", err)
		return c.vs
	}
	defer closeRef()
	e := conformExperiment()
	c.trial(ctx, e, p, "server", p, ref)
	c.trial(ctx, e, p, "client", ref, p)
	var wg sync.WaitGroup
	for _, role := range []string{"server", "client"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			srv, cli := p, ref
			if role == "client" {
				srv, cli = ref, p
			}
			c.trial(ctx, e, p, role+", two trials at once", srv, cli)
		}()
	}
	wg.Wait()
	return c.vs
}

// referencePeer serves the protocol with kcp-go in this process, over pipes; it knows no experiment:
// it runs the scripts it is given.
func referencePeer() (*Peer, func(), error) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	served := make(chan error, 1)
	go func() {
		served <- ServePeer(context.Background(), inR, outW, func(id string) (*harness.Experiment, error) {
			return nil, fmt.Errorf("no experiment %q here: scripts only", id)
		})
		outW.Close()
	}()
	p, err := NewPeer(outR, inW, func() error { return <-served })
	if err != nil {
		inW.Close()
		return nil, nil, err
	}
	return p, func() { _ = p.Close() }, nil
}

// checker collects violations; trials running at once add to it.
type checker struct {
	mu sync.Mutex
	vs []Violation
}

func (c *checker) add(step, format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.vs = append(c.vs, Violation{step, fmt.Sprintf(format, args...)})
}

// errorReplies checks the answers to requests that must fail.
func (c *checker) errorReplies(ctx context.Context, p *Peer) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		step string
		req  PeerMsg
	}{
		{"an unknown op", PeerMsg{Op: "conform-nonsense"}},
		{"settle of no trial", PeerMsg{Op: "settle", QuietMs: 10, DeadlineMs: 100}},
		{"listen without a script, of an experiment nobody knows", PeerMsg{Op: "listen", Exp: "conform-no-such-experiment"}},
	} {
		tc.req.Trial = pairTrialIDs.Add(1)
		if err := p.Send(tc.req); err != nil {
			c.add(tc.step, "sending %s: %v", tc.req.Op, err)
			continue
		}
		m, err := p.Await(ctx, tc.req.Trial, replyOp[tc.req.Op])
		p.forget(tc.req.Trial)
		switch {
		case m.Op == "error" && m.For == tc.req.Op:
		case m.Op == "error":
			c.add(tc.step, `the error says "for":%q, not %q`, m.For, tc.req.Op)
		case err != nil:
			c.add(tc.step, `no {"op":"error","trial":%d,"for":%q,...}: %v`, tc.req.Trial, tc.req.Op, err)
		default:
			c.add(tc.step, "answered %q, not an error", m.Op)
			if m.Op == "ready" { // a listener nobody asked for: take it down again
				_, _ = p.Call(ctx, PeerMsg{Op: "teardown", Trial: tc.req.Trial})
				p.forget(tc.req.Trial)
			}
		}
	}
}

// trialRecord is what one peer of a trial told: its address and its done.
type trialRecord struct {
	addr netip.AddrPort
	done *PeerMsg
}

// trial runs one pair trial with the peer under test p in role ("server" or "client") and checks it.
func (c *checker) trial(ctx context.Context, e *harness.Experiment, p *Peer, role string, srv, cli *Peer) {
	testedRole := "server"
	if cli == p && srv != p {
		testedRole = "client"
	}
	where := func(op string) string { return fmt.Sprintf("%s (peer as %s)", op, role) }
	var mu sync.Mutex
	recs := map[string]*trialRecord{"server": {}, "client": {}}
	start := time.Now()
	tr, err := pairTrial(ctx, e, 1, srv, cli, func(x exchange) {
		mu.Lock()
		defer mu.Unlock()
		rec := recs[x.peer]
		if x.peer == testedRole {
			c.reply(where(x.req.Op), x, start)
		}
		switch x.reply.Op {
		case "ready":
			rec.addr, _ = netip.ParseAddrPort(x.reply.Addr)
		case "done":
			rec.done = &x.reply
		}
	})
	if err != nil {
		c.add(where("trial"), "%v", err)
	}
	if tr == nil {
		return
	}
	for _, d := range tr.DecodeErrs {
		c.add(where("datagrams"), "not KCP: %v", d)
	}
	tested, other := recs[testedRole], recs["server"]
	if testedRole == "server" {
		other = recs["client"]
	}
	if tested.done == nil || other.done == nil {
		return
	}
	c.datagrams(where("done"), tested, other, start)
	c.events(where("done"), testedRole, tested.done.Events, start)
	if testedRole == "server" {
		d := tested.done
		if d.Accepts < 1 || len(d.TornDown) != d.Accepts {
			c.add(where("done"), "accepts %d, torn_down %v: one entry per accepted session, at least one", d.Accepts, d.TornDown)
		} else if d.TornDown[0] {
			c.add(where("done"), "torn_down[0] is true: the first session's role had returned before the teardown")
		}
	}
}

// reply checks one reply of the peer under test.
func (c *checker) reply(step string, x exchange, start time.Time) {
	want := replyOp[x.req.Op]
	if x.req.Op == "returned" {
		want = "returned"
	}
	if x.err != nil {
		c.add(step, "%v", x.err)
		return
	}
	m := x.reply
	if m.Op != want || m.Trial != x.req.Trial {
		c.add(step, `replied {"op":%q,"trial":%d}, want {"op":%q,"trial":%d}`, m.Op, m.Trial, want, x.req.Trial)
		return
	}
	switch m.Op {
	case "ready":
		a, err := netip.ParseAddrPort(m.Addr)
		switch {
		case err != nil:
			c.add(step, "addr %q: %v", m.Addr, err)
		case a.Addr() != netip.MustParseAddr("127.0.0.1") || a.Port() == 0:
			c.add(step, "addr %s: the socket is bound to 127.0.0.1 and a port the kernel chose", a)
		}
		if x.req.Op == "dial" && !sane(m.StartNs, start) {
			c.add(step, "start_ns %d is not the wall-clock time of the session's creation (Unix ns)", m.StartNs)
		}
	case "returned":
		if m.Side != "client" {
			c.add(step, `side %q, want "client"`, m.Side)
		}
		if m.ErrClass != "" || m.Error != "" {
			c.add(step, "the client's script ends without error, the peer says %q %q", m.ErrClass, m.Error)
		}
	case "settled":
		if m.Error != "" {
			c.add(step, "%s", m.Error)
		}
	case "closed":
		if m.Closed {
			c.add(step, `"closed":true: the session was still open after the role returned (a role's session is closed when its actions end)`)
		}
	}
}

// sane reports whether t (Unix ns) is a wall-clock time of the trial begun at start.
func sane(tNs int64, start time.Time) bool {
	t := time.Unix(0, tNs)
	return t.After(start.Add(-time.Minute)) && t.Before(time.Now().Add(time.Minute))
}

// datagrams checks the peer's datagram records against the kcp-go peer's: both ways, every datagram
// one sent the other received, and each decodes as KCP.
func (c *checker) datagrams(step string, tested, other *trialRecord, start time.Time) {
	type key struct {
		src, dst string
		payload  string
	}
	var sent, received []key
	for i, d := range tested.done.Datagrams {
		dg, err := DecodeDatagram(d)
		if err != nil {
			c.add(step, "datagram %d: %v", i+1, err)
			continue
		}
		if !sane(d.TNs, start) {
			c.add(step, "datagram %d: t_ns %d is not a wall-clock time of the trial (Unix ns)", i+1, d.TNs)
		}
		var kd kcpwire.Datagram
		if err := kd.Decode(d.B64, kcpwire.FramingPlain); err != nil {
			c.add(step, "datagram %d (%s → %s) is not KCP: %v", i+1, d.Src, d.Dst, err)
		}
		k := key{d.Src, d.Dst, string(d.B64)}
		switch {
		case dg.Src == tested.addr:
			sent = append(sent, k)
		case dg.Dst == tested.addr:
			received = append(received, k)
		default:
			c.add(step, "datagram %d: %s → %s: neither end is the peer's socket %s", i+1, d.Src, d.Dst, tested.addr)
		}
	}
	var otherSent, otherReceived []key
	for _, d := range other.done.Datagrams {
		k := key{d.Src, d.Dst, string(d.B64)}
		switch {
		case d.Src == other.addr.String() && d.Dst == tested.addr.String():
			otherSent = append(otherSent, k)
		case d.Dst == other.addr.String() && d.Src == tested.addr.String():
			otherReceived = append(otherReceived, k)
		}
	}
	if len(sent) == 0 || len(received) == 0 {
		c.add(step, "%d datagrams sent and %d received in its record: a peer records every datagram its socket sends and receives", len(sent), len(received))
	}
	missing := func(have, want []key) int {
		left := slices.Clone(have)
		n := 0
		for _, w := range want {
			if i := slices.Index(left, w); i >= 0 {
				left = slices.Delete(left, i, i+1)
			} else {
				n++
			}
		}
		return n
	}
	if n := missing(received, otherSent); n > 0 {
		c.add(step, "%d of the %d datagrams the kcp-go peer sent it are missing from its record of those it received", n, len(otherSent))
	}
	if n := missing(sent, otherReceived); n > 0 {
		c.add(step, "%d of the %d datagrams the kcp-go peer received from it are missing from its record of those it sent", n, len(otherReceived))
	}
}

// events checks the peer's events: the vocabulary, the side, and the sequence its script makes.
func (c *checker) events(step, side string, evs []PeerEvent, start time.Time) {
	classes := []string{"", "timeout", "EOF", "closed", "other"}
	evs = slices.Clone(evs)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].TNs < evs[j].TNs })
	var kinds []string
	var read, wrote []byte
	for i, ev := range evs {
		if _, err := DecodeEvent(ev); err != nil {
			c.add(step, "event %d: %v (kinds: Dial, Accept, Read, Write, Close, return)", i+1, err)
			continue
		}
		if ev.Side != side {
			c.add(step, "event %d (%s): side %q, want %q", i+1, ev.Kind, ev.Side, side)
		}
		if !slices.Contains(classes, ev.ErrClass) {
			c.add(step, "event %d (%s): err_class %q is none of timeout, EOF, closed, other (or left out)", i+1, ev.Kind, ev.ErrClass)
		}
		if !sane(ev.TNs, start) {
			c.add(step, "event %d (%s): t_ns %d is not a wall-clock time of the trial (Unix ns)", i+1, ev.Kind, ev.TNs)
		}
		if (ev.Kind == "Read" || ev.Kind == "Write") && ev.N != len(ev.Data) {
			c.add(step, "event %d (%s): n %d, but data_b64 holds %d bytes", i+1, ev.Kind, ev.N, len(ev.Data))
		}
		if side == "server" && ev.Session != 1 {
			continue // only the first session runs the exchange
		}
		if len(kinds) == 0 || kinds[len(kinds)-1] != ev.Kind {
			kinds = append(kinds, ev.Kind)
		}
		switch ev.Kind {
		case "Read":
			read = append(read, ev.Data...)
		case "Write":
			wrote = append(wrote, ev.Data...)
		}
	}
	want := []string{"Dial", "Write", "Read", "Close", "return"}
	wantRead, wantWrote := conformResponse, conformRequest
	if side == "server" {
		want = []string{"Accept", "Read", "Write", "Read", "Close", "return"}
		wantRead, wantWrote = conformRequest, conformResponse
	}
	if !slices.Equal(kinds, want) {
		c.add(step, "the %s's events are %v (repeats of a kind shown once), want %v", side, kinds, want)
	}
	if !bytes.Equal(read, []byte(wantRead)) || !bytes.Equal(wrote, []byte(wantWrote)) {
		c.add(step, "the %s read %q and wrote %q, want %q and %q", side, read, wrote, wantRead, wantWrote)
	}
}
