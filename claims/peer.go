package claims

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"kcplab/internal/dir"
	"kcplab/link"
	"kcplab/peer"
	"kcplab/script"
)

// PeerStarter starts a peer process of a KCP implementation (package peer's protocol).
type PeerStarter func(ctx context.Context) (*peer.Peer, error)

// scriptOptions is mode m as a script's options. The minimum RTO is left out: neither kcp-go nor
// node-kcp can set it (a case says so with MinRTOApplied).
func scriptOptions(m Mode) script.Options {
	i := func(v int) *int { return &v }
	return script.Options{NoDelay: i(m.NoDelay), IntervalMs: i(int(m.Interval.Milliseconds())), Resend: i(m.Resend), NC: i(m.NC),
		SndWnd: i(m.SndWnd), RcvWnd: i(m.RcvWnd)}
}

// relay carries datagrams between a peer's client (which sends to front) and its server (back's
// remote), through a link: what the client sends goes out of back as C2S, what the server sends goes
// out of front as S2C, so the link sees every datagram once, as it does when it wraps the sockets.
type relay struct {
	front, back *net.UDPConn
	toServer    net.PacketConn
	toClient    net.PacketConn
	server      net.Addr
	mu          sync.Mutex
	client      net.Addr
	wg          sync.WaitGroup
}

func newRelay(l *link.Link, server netip.AddrPort) (*relay, error) {
	lo := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	front, err := net.ListenUDP("udp4", lo)
	if err != nil {
		return nil, err
	}
	back, err := net.ListenUDP("udp4", lo)
	if err != nil {
		front.Close()
		return nil, err
	}
	r := &relay{front: front, back: back, toServer: l.Wrap(back, dir.C2S), toClient: l.Wrap(front, dir.S2C),
		server: net.UDPAddrFromAddrPort(server)}
	r.wg.Add(2)
	go r.pump(front, true)
	go r.pump(back, false)
	return r, nil
}

// pump moves what in receives to the other side until in closes.
func (r *relay) pump(in *net.UDPConn, fromClient bool) {
	defer r.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, from, err := in.ReadFrom(buf)
		if err != nil {
			return
		}
		if fromClient {
			r.mu.Lock()
			r.client = from
			r.mu.Unlock()
			_, _ = r.toServer.WriteTo(buf[:n], r.server)
			continue
		}
		r.mu.Lock()
		to := r.client
		r.mu.Unlock()
		if to != nil {
			_, _ = r.toClient.WriteTo(buf[:n], to)
		}
	}
}

func (r *relay) close() {
	r.front.Close()
	r.back.Close()
	r.wg.Wait()
}

// runPeer runs the echo workload in mode m between two roles of a peer process (server: echo; client:
// pace) across a relay through link l. It returns the client's RTTs from the peer's events and what
// each role's socket sent ([client, server]), from the peer's datagram records.
func runPeer(ctx context.Context, w Workload, m Mode, start PeerStarter, l *link.Link) (Measured, [2]sent, error) {
	var out [2]sent
	e, ok := w.(Echo)
	if !ok {
		return Measured{}, out, fmt.Errorf("claims: a peer runs the echo workload only, not %s", w.Name())
	}
	p, err := start(ctx)
	if err != nil {
		return Measured{}, out, err
	}
	defer p.Close()
	opts := scriptOptions(m)
	grace := e.Every*time.Duration(e.Count) + ServerGrace
	srv := &script.Script{Options: opts, Actions: []script.Action{{Do: script.DoEcho, DeadlineMs: int(grace.Milliseconds())}}}
	cli := &script.Script{Options: opts, Actions: []script.Action{{Do: script.DoPace, Count: e.Count, EveryMs: int(e.Every.Milliseconds()),
		Size: e.Size, DeadlineMs: int(ServerGrace.Milliseconds())}}}
	ctx, cancel := context.WithTimeout(ctx, grace+30*time.Second)
	defer cancel()
	const srvTrial, cliTrial = 1, 2
	ready, err := p.Call(ctx, peer.PeerMsg{Op: "listen", Trial: srvTrial, Script: srv})
	if err != nil {
		return Measured{}, out, fmt.Errorf("peer %s: listen: %w", p.Label(), err)
	}
	srvAddr, err := netip.ParseAddrPort(ready.Addr)
	if err != nil {
		return Measured{}, out, fmt.Errorf("peer %s: listen: address %q: %w", p.Label(), ready.Addr, err)
	}
	r, err := newRelay(l, srvAddr)
	if err != nil {
		return Measured{}, out, err
	}
	defer r.close()
	dialed, err := p.Call(ctx, peer.PeerMsg{Op: "dial", Trial: cliTrial, Server: r.front.LocalAddr().String(), Script: cli})
	if err != nil {
		return Measured{}, out, fmt.Errorf("peer %s: dial: %w", p.Label(), err)
	}
	ret, err := p.Await(ctx, cliTrial, "returned")
	if err != nil {
		return Measured{}, out, fmt.Errorf("peer %s: the client role did not return: %w", p.Label(), err)
	}
	cdone, cerr := p.Call(ctx, peer.PeerMsg{Op: "teardown", Trial: cliTrial})
	sdone, serr := p.Call(ctx, peer.PeerMsg{Op: "teardown", Trial: srvTrial})
	if err := errors.Join(cerr, serr); err != nil {
		return Measured{}, out, fmt.Errorf("peer %s: teardown: %w", p.Label(), err)
	}
	meas := Measured{Missing: e.Count}
	sentAt := make([]time.Time, e.Count)
	for _, ev := range cdone.Events {
		if len(ev.Data) < 4 || ev.ErrClass != "" {
			continue
		}
		i := int(binary.BigEndian.Uint32(ev.Data))
		if i >= e.Count {
			return meas, out, fmt.Errorf("peer %s: an event with message %d of %d", p.Label(), i, e.Count)
		}
		switch ev.Kind {
		case "Write":
			sentAt[i] = time.Unix(0, ev.TNs-ev.DurNs)
		case "Read":
			if sentAt[i].IsZero() {
				return meas, out, fmt.Errorf("peer %s: message %d read before it was written", p.Label(), i)
			}
			meas.RTTs = append(meas.RTTs, time.Unix(0, ev.TNs).Sub(sentAt[i]))
			meas.Missing--
		}
	}
	for i, d := range []struct {
		done peer.PeerMsg
		own  string
	}{{cdone, dialed.Addr}, {sdone, ready.Addr}} {
		for _, dg := range d.done.Datagrams {
			if dg.Src == d.own {
				out[i].Datagrams++
				out[i].Bytes += int64(len(dg.B64))
			}
		}
	}
	// The relay may still hold the last datagrams the roles sent before their sockets closed: wait
	// (boundedly) until the link has carried as many as the peer recorded.
	want := uint64(out[0].Datagrams + out[1].Datagrams)
	for end := time.Now().Add(2 * time.Second); l.Stats(dir.C2S).Sent+l.Stats(dir.S2C).Sent < want && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
	if ret.Error != "" && meas.Missing > 0 {
		return meas, out, fmt.Errorf("peer %s: %d message(s) never echoed by the client's deadline; client role: %s", p.Label(), meas.Missing, ret.Error)
	}
	return meas, out, nil
}
