package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/capture"
)

// TestPeerRecordsRoundTrip encodes events and datagrams as the peer protocol does, through JSON, and
// checks that the rebuilt errors keep their classes for IsTimeout, ErrClass and errors.Is.
func TestPeerRecordsRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 123456789)
	errs := []error{nil, &PeerError{Class: OutcomeTimeout, Msg: "i/o timeout"}, fmt.Errorf("read: %w", io.EOF),
		fmt.Errorf("x: %w", io.ErrClosedPipe), errors.New("boom")}
	for _, in := range errs {
		ev := Event{Time: now, Side: Server, Session: 2, Kind: EvRead, N: 3, Data: []byte("abc"), Err: in, Dur: time.Second}
		b, err := json.Marshal(EncodeEvent(ev))
		require.NoError(t, err)
		var p PeerEvent
		require.NoError(t, json.Unmarshal(b, &p))
		out, err := DecodeEvent(p)
		require.NoError(t, err)
		assert.True(t, out.Time.Equal(now))
		assert.Equal(t, ev.Side, out.Side)
		assert.Equal(t, ev.Session, out.Session)
		assert.Equal(t, ev.Kind, out.Kind)
		assert.Equal(t, ev.Data, out.Data)
		assert.Equal(t, ev.Dur, out.Dur)
		assert.Equal(t, OutcomeOf(in), OutcomeOf(out.Err), "%v", in)
		assert.Equal(t, ErrClass(in), ErrClass(out.Err), "%v", in)
		assert.Equal(t, IsTimeout(in), IsTimeout(out.Err))
		assert.Equal(t, errors.Is(in, io.EOF), errors.Is(out.Err, io.EOF))
		assert.Equal(t, errors.Is(in, io.ErrClosedPipe), errors.Is(out.Err, io.ErrClosedPipe))
	}
	d := capture.Datagram{Time: now, Src: netip.MustParseAddrPort("127.0.0.1:4000"), Dst: netip.MustParseAddrPort("127.0.0.1:5000"), Payload: []byte{1, 2, 0}}
	b, err := json.Marshal(EncodeDatagram(d))
	require.NoError(t, err)
	assert.Contains(t, string(b), `"b64":"AQIA"`)
	var p PeerDatagram
	require.NoError(t, json.Unmarshal(b, &p))
	got, err := DecodeDatagram(p)
	require.NoError(t, err)
	assert.True(t, got.Time.Equal(now))
	assert.Equal(t, d.Src, got.Src)
	assert.Equal(t, d.Dst, got.Dst)
	assert.Equal(t, d.Payload, got.Payload)
	_, err = DecodeEvent(PeerEvent{Side: "client", Kind: "Jump"})
	assert.Error(t, err)
}

// pipePeer serves the protocol in this process over pipes, with the experiments of exps.
func pipePeer(t *testing.T, exps ...*Experiment) *Peer {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	served := make(chan error, 1)
	go func() {
		served <- ServePeer(context.Background(), inR, outW, func(id string) (*Experiment, error) {
			for _, e := range exps {
				if e.ID == id {
					return e, nil
				}
			}
			return nil, fmt.Errorf("no experiment %q", id)
		})
		outW.Close()
	}()
	p, err := NewPeer(outR, inW, func() error { return <-served })
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, p.Close()) })
	return p
}

func TestPeerUnknownOp(t *testing.T) {
	t.Parallel()
	p := pipePeer(t)
	require.NoError(t, p.Send(PeerMsg{Op: "jump", Trial: 7}))
	line, err := p.Await(context.Background(), 7, "") // an error for an unknown op has no reply op
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown op "jump"`)
	assert.Equal(t, "error", line.Op)
	_, err = p.Call(context.Background(), PeerMsg{Op: "listen", Exp: "nope", Trial: 8})
	assert.ErrorContains(t, err, `no experiment "nope"`)
}

// TestRunPairInProcess runs pair trials whose two peers serve the protocol in this process: the trials
// land in the class an in-process run gives.
func TestRunPairInProcess(t *testing.T) {
	t.Parallel()
	e := pingPong(pingPongAnswered)
	srv, cli := pipePeer(t, e), pipePeer(t, e)
	res, err := RunPair(context.Background(), e, RunOptions{Trials: 4, Parallel: 2, KeepDir: t.TempDir()}, srv, cli)
	require.NoError(t, err)
	for _, f := range res.Failed() {
		t.Errorf("trial %d: %v", f.Trial, f.Err)
	}
	assert.Equal(t, 4, res.Counts["answered"])
	tr := res.Trials[0].Trace
	require.NotNil(t, tr)
	assert.Equal(t, 1, tr.Accepts)
	// Each datagram once: four segments, in three datagrams when the server's ACK and response share
	// one (the client's Input then ACKs at once), in four when they do not.
	assert.Len(t, tr.Segments, 4, tr.Ladder())
	assert.Len(t, tr.Datagrams, tr.Segments[len(tr.Segments)-1].Datagram+1, tr.Ladder())
	assert.Equal(t, "pong", string(tr.BytesRead(Client, 0)))
	assert.Equal(t, "ping", string(tr.BytesRead(Server, 1)))
	s := res.Summary()
	assert.Equal(t, KCPGoVersion(), s.KCPGoServer)
	assert.True(t, strings.HasPrefix(s.KCPGo, "server "))

	// Both roles in one peer (a pair of one release).
	res, err = RunPair(context.Background(), e, RunOptions{Trials: 2, Parallel: 2, KeepDir: t.TempDir()}, srv, srv)
	require.NoError(t, err)
	for _, f := range res.Failed() {
		t.Errorf("one peer, trial %d: %v", f.Trial, f.Err)
	}
	assert.Equal(t, 2, res.Counts["answered"])
}

// TestAssembleKeepsTheSendersRecord checks the merge of two peers' records: a datagram between them
// once (the sender's record), a datagram from a third address (the receiver's), events in time order.
func TestAssembleKeepsTheSendersRecord(t *testing.T) {
	t.Parallel()
	srvA, cliA, other := "127.0.0.1:1000", "127.0.0.1:2000", "127.0.0.1:3000"
	at := func(ms int64) int64 { return time.Unix(100, 0).Add(time.Duration(ms) * time.Millisecond).UnixNano() }
	srv := PeerMsg{Accepts: 1, Datagrams: []PeerDatagram{
		{TNs: at(1), Src: cliA, Dst: srvA, B64: []byte("req")},    // received: the client recorded it
		{TNs: at(2), Src: srvA, Dst: cliA, B64: []byte("resp")},   // sent
		{TNs: at(5), Src: other, Dst: srvA, B64: []byte("stray")}, // received from a third party
	}, Events: []PeerEvent{{TNs: at(3), Side: "server", Session: 1, Kind: "return", ErrClass: "timeout", Err: "timeout"}},
		Stalls: []PeerStall{{FromNs: at(4), ToNs: at(6)}}}
	cli := PeerMsg{Datagrams: []PeerDatagram{
		{TNs: at(0), Src: cliA, Dst: srvA, B64: []byte("req")},
		{TNs: at(3), Src: srvA, Dst: cliA, B64: []byte("resp")},
	}, Events: []PeerEvent{{TNs: at(0), Side: "client", Kind: "Dial"}}}
	tr := &Trace{Start: time.Unix(0, at(0)), Server: netip.MustParseAddrPort(srvA), Client: netip.MustParseAddrPort(cliA)}
	require.NoError(t, assemble(tr, srv, cli))
	require.Len(t, tr.Datagrams, 3)
	assert.Equal(t, "req", string(tr.Datagrams[0].Payload))
	assert.Equal(t, capture.SideClient, tr.Datagrams[0].Side)
	assert.Equal(t, at(2), tr.Datagrams[1].Time.UnixNano(), "the server's record of its own datagram")
	assert.Equal(t, capture.SideServer, tr.Datagrams[1].Side)
	assert.Equal(t, "stray", string(tr.Datagrams[2].Payload))
	require.Len(t, tr.Events, 2)
	assert.Equal(t, EvDial, tr.Events[0].Kind)
	require.Len(t, tr.ServerErr, 1)
	assert.True(t, IsTimeout(tr.ServerErr[0]))
	assert.Equal(t, Stalls{{From: 4 * time.Millisecond, To: 6 * time.Millisecond}}, tr.Stalls)
}
