package peer

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"kcplab/capture"
	"kcplab/harness"
	"kcplab/stall"
)

// pairTrialIDs numbers the trials the coordinator runs on peers (unique per process, so per peer).
var pairTrialIDs atomic.Int64

// pairSlack is what a pair trial may take beyond the experiment's timeout: the peers' replies and
// their teardowns.
const pairSlack = 10 * time.Second

// RunPair runs e's trials with the server role in the peer srv and the client role in the peer cli
// (peer.go), and classifies them like harness.Run. Each peer's sockets bind to its Bind address, and
// its clock is measured first (MeasureClock): its times are corrected before each trace is assembled. Trials run with tap capture in the peers; the
// experiment must have a listener and no link (Env's actions are not available in peers). A role that
// is a script is sent to its peer; a Go role runs only in a kcp-go peer (Offered).
func RunPair(ctx context.Context, e *harness.Experiment, opts harness.RunOptions, srv, cli *Peer) (*harness.Result, error) {
	if err := e.CheckRoles(); err != nil {
		return nil, err
	}
	if e.NoListener {
		return nil, fmt.Errorf("experiment %s: pair trials need a client and a server role", e.ID)
	}
	if opts.Link != nil || !e.Link.IsZero() {
		return nil, fmt.Errorf("experiment %s: pair trials have no link", e.ID)
	}
	if err := Offered(e, srv, cli); err != nil {
		return nil, err
	}
	// Each peer's clock, so that its times are put on the coordinator's before a trace is assembled.
	for i, p := range []*Peer{srv, cli} {
		if i == 1 && p == srv {
			break
		}
		if _, err := p.MeasureClock(ctx, 0); err != nil {
			return nil, err
		}
	}
	res, err := harness.RunFunc(ctx, e, opts, func(ctx context.Context, n int) (*harness.Trace, error) {
		return PairTrial(ctx, e, n, srv, cli)
	})
	if err != nil {
		return nil, err
	}
	res.KCPGoServer, res.KCPGoClient = srv.Hello.KCPGo, cli.Hello.KCPGo
	return res, nil
}

// PairSummary is res's summary.json for a run of RunPair over srv and cli: each peer named by its
// hello (server_peer, client_peer), and kcp_go naming both (PairName).
func PairSummary(res *harness.Result, srv, cli *Peer) harness.Summary {
	s := res.Summary()
	s.KCPGo = PairName(srv, cli)
	s.ServerPeer, s.ClientPeer = srv.Ident(), cli.Ident()
	return s
}

// PairName names a pair of peers in its trials and results: "server X × client Y", each a kcp-go
// peer's release or another peer's implementation and version.
func PairName(srv, cli *Peer) string { return "server " + srv.Label() + " × client " + cli.Label() }

// Offered reports why e cannot run with its server role in srv and its client role in cli: a role
// that is Go code needs a peer that runs Go roles (nil when nothing keeps it from running).
func Offered(e *harness.Experiment, srv, cli *Peer) error {
	for _, r := range []struct {
		name   string
		p      *Peer
		script bool
	}{{"server", srv, e.ServerScript != nil}, {"client", cli, e.ClientScript != nil}} {
		if !r.script && !r.p.RunsGoRoles() {
			return fmt.Errorf("experiment %s: its %s role is Go code, and peer %s runs scripted roles only", e.ID, r.name, r.p.Name())
		}
	}
	return nil
}

// PairTrial runs one trial of e over two peers and assembles its trace from their records.
func PairTrial(ctx context.Context, e *harness.Experiment, n int, srv, cli *Peer) (*harness.Trace, error) {
	return pairTrial(ctx, e, n, srv, cli, nil)
}

// exchange is one step of a pair trial with a peer: the request sent (for the unsolicited
// "returned", a request of op "returned" that was not sent), its reply, and the error Call or Await
// returned.
type exchange struct {
	peer  string // "server" or "client"
	req   PeerMsg
	reply PeerMsg
	err   error
}

// pairTrial is PairTrial; watch, when not nil, sees every exchange with the peers as it ends.
func pairTrial(ctx context.Context, e *harness.Experiment, n int, srv, cli *Peer, watch func(exchange)) (tr *harness.Trace, err error) {
	// Each role has its own id: the two may run in one peer (a pair of one release).
	sid, cid := pairTrialIDs.Add(1), pairTrialIDs.Add(1)
	defer srv.forget(sid)
	defer cli.forget(cid)
	ctx, cancel := context.WithTimeout(ctx, e.TrialTimeout()+pairSlack)
	defer cancel()

	call := func(ctx context.Context, who string, p *Peer, req PeerMsg) (PeerMsg, error) {
		reply, err := p.Call(ctx, req)
		if watch != nil {
			watch(exchange{peer: who, req: req, reply: reply, err: err})
		}
		return reply, err
	}
	var srvDone, cliDone PeerMsg
	listening, dialed := false, false
	// However the trial ends, both peers tear it down, and whatever they recorded makes the trace.
	defer func() {
		// A fresh deadline: the trial's may have passed.
		ctx, cancel := context.WithTimeout(context.Background(), pairSlack)
		defer cancel()
		var wg sync.WaitGroup
		var serr, cerr error
		if listening {
			wg.Add(1)
			go func() { defer wg.Done(); srvDone, serr = call(ctx, "server", srv, PeerMsg{Op: "teardown", Trial: sid}) }()
		}
		if dialed {
			wg.Add(1)
			go func() { defer wg.Done(); cliDone, cerr = call(ctx, "client", cli, PeerMsg{Op: "teardown", Trial: cid}) }()
		}
		wg.Wait()
		if tr != nil {
			// On the coordinator's clock: each peer's times less its clock's correction.
			srvDone = shiftTimes(srvDone, -srv.Clock().Correction())
			cliDone = shiftTimes(cliDone, -cli.Clock().Correction())
			if aerr := assemble(tr, srvDone, cliDone); aerr != nil {
				serr = errors.Join(serr, aerr)
			}
			tr.KCPGo = PairName(srv, cli)
			tr.Decode(e.Transport.Framing())
		}
		if err == nil {
			err = errors.Join(serr, cerr)
		}
	}()

	// open asks a peer to listen or dial (then the teardown must undo it: opened), and returns its
	// answer and the address it reports.
	open := func(role string, p *Peer, req PeerMsg, opened *bool) (PeerMsg, netip.AddrPort, error) {
		r, err := call(ctx, role, p, req)
		if err != nil {
			return r, netip.AddrPort{}, fmt.Errorf("%s peer: %w", role, err)
		}
		*opened = true
		a, err := netip.ParseAddrPort(r.Addr)
		if err != nil {
			err = fmt.Errorf("%s peer's address: %w", role, err)
		}
		return r, a, err
	}
	_, srvAddr, err := open("server", srv, PeerMsg{Op: "listen", Exp: e.ID, Trial: sid, Bind: srv.Bind, Script: e.ServerScript}, &listening)
	if err != nil {
		return nil, err
	}
	r, cliAddr, err := open("client", cli, PeerMsg{Op: "dial", Exp: e.ID, Trial: cid, Server: srvAddr.String(), Bind: cli.Bind, Script: e.ClientScript}, &dialed)
	if err != nil {
		return nil, err
	}
	start := time.Unix(0, r.StartNs).Add(-cli.Clock().Correction())
	tr = &harness.Trace{Experiment: e.ID, Trial: n, Start: start, Client: cliAddr, Server: srvAddr}

	// The client role, then the first server role and the wire's quiet (the server peer sees every
	// datagram of the trial), then the client session's Close if the role left it open, and quiet again.
	rctx, rcancel := context.WithTimeout(ctx, e.TrialTimeout())
	ret, err := cli.Await(rctx, cid, "returned")
	rcancel()
	if watch != nil {
		watch(exchange{peer: "client", req: PeerMsg{Op: "returned", Trial: cid}, reply: ret, err: err})
	}
	if err != nil {
		return tr, fmt.Errorf("client role still running after %v (%v)", e.TrialTimeout(), err)
	}
	tr.ClientErr = peerErr(ret.ErrClass, ret.Error)
	settle := func(d time.Duration) error {
		m, err := call(ctx, "server", srv, PeerMsg{Op: "settle", Trial: sid, QuietMs: e.QuietPeriod().Milliseconds(), DeadlineMs: d.Milliseconds()})
		if err == nil && m.Error != "" {
			err = errors.New(m.Error)
		}
		return err
	}
	left := time.Until(tr.Start.Add(e.TrialTimeout()))
	if err := settle(max(left, e.QuietPeriod()+time.Second)); err != nil {
		return tr, err
	}
	c, err := call(ctx, "client", cli, PeerMsg{Op: "close", Trial: cid})
	if err != nil {
		return tr, err
	}
	if c.Closed {
		if err := settle(harness.QuietAgainLimit(e.QuietPeriod())); err != nil {
			return tr, err
		}
	}
	return tr, nil
}

// assemble fills the trace from the peers' records: of a datagram between the two peers, the
// sender's record; of one from anyone else, the receiver's.
func assemble(tr *harness.Trace, srv, cli PeerMsg) error {
	var errs []error
	var stalls []stall.Span
	for _, m := range []PeerMsg{srv, cli} {
		for _, st := range m.Stalls {
			stalls = append(stalls, stall.Span{From: time.Unix(0, st.FromNs), To: time.Unix(0, st.ToNs)})
		}
	}
	tr.Stalls = stall.Since(tr.Start, stalls)
	recs := []struct {
		m           PeerMsg
		self, other netip.AddrPort
		side        harness.Side
	}{{srv, tr.Server, tr.Client, harness.Server}, {cli, tr.Client, tr.Server, harness.Client}}
	// Each datagram between the peers is kept once, as its sender recorded it, at the earlier of the
	// sender's and the receiver's times: each process stamps a datagram when its socket call returns,
	// and a sender descheduled after its send can stamp it after the receiver already answered it. The
	// receiver stamps a datagram before it acts on it, so the earlier time keeps cause before effect.
	received := map[string][]time.Time{} // by src, dst and bytes, in the receiver's order
	key := func(d capture.Datagram) string {
		return d.Src.String() + ">" + d.Dst.String() + ">" + string(d.Payload)
	}
	decoded := make([][]capture.Datagram, len(recs)) // each peer's records, decoded once
	for i, rec := range recs {
		for _, p := range rec.m.Datagrams {
			d, err := DecodeDatagram(p)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			decoded[i] = append(decoded[i], d)
			if d.Src == rec.other {
				received[key(d)] = append(received[key(d)], d.Time)
			}
		}
	}
	for i, rec := range recs {
		for _, d := range decoded[i] {
			switch {
			case d.Src == rec.self:
				d.Side = rec.side
				if at := received[key(d)]; len(at) > 0 {
					d.Time = minTime(d.Time, at[0])
					received[key(d)] = at[1:]
				}
			case d.Src == rec.other:
				continue // the other peer recorded it when it sent it
			}
			tr.Datagrams = append(tr.Datagrams, d)
		}
		for _, p := range rec.m.Events {
			ev, err := DecodeEvent(p)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			tr.Events = append(tr.Events, ev)
		}
	}
	sort.SliceStable(tr.Datagrams, func(i, j int) bool { return tr.Datagrams[i].Time.Before(tr.Datagrams[j].Time) })
	sort.SliceStable(tr.Events, func(i, j int) bool { return tr.Events[i].Time.Before(tr.Events[j].Time) })
	tr.Accepts, tr.TornDown = srv.Accepts, srv.TornDown
	tr.ServerErr = make([]error, tr.Accepts)
	for _, ev := range tr.Events {
		if ev.Side == harness.Server && ev.Kind == harness.EvReturn && ev.Session >= 1 && ev.Session <= tr.Accepts {
			tr.ServerErr[ev.Session-1] = ev.Err
		}
	}
	tr.Stats.Captured = len(tr.Datagrams)
	return errors.Join(errs...)
}

// minTime returns the earlier of a and b.
func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
