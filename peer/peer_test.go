package peer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/capture"
	"kcplab/harness"
)

// throughJSON marshals v and reads the JSON back into a W, as a peer's line carries it.
func throughJSON[W any](t *testing.T, v any) (W, []byte) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var w W
	require.NoError(t, json.Unmarshal(b, &w))
	return w, b
}

// TestPeerRecordsRoundTrip encodes events and datagrams as the peer protocol does, through JSON, and
// checks that the rebuilt errors keep their classes for IsTimeout, ErrClass and errors.Is.
func TestPeerRecordsRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 123456789)
	errs := []error{nil, &PeerError{Class: harness.OutcomeTimeout, Msg: "i/o timeout"}, fmt.Errorf("read: %w", io.EOF),
		fmt.Errorf("x: %w", io.ErrClosedPipe), errors.New("boom")}
	for _, in := range errs {
		ev := harness.Event{Time: now, Side: harness.Server, Session: 2, Kind: harness.EvRead, N: 3, Data: []byte("abc"), Err: in, Dur: time.Second}
		p, _ := throughJSON[PeerEvent](t, EncodeEvent(ev))
		out, err := DecodeEvent(p)
		require.NoError(t, err)
		assert.True(t, out.Time.Equal(now))
		assert.Equal(t, ev.Side, out.Side)
		assert.Equal(t, ev.Session, out.Session)
		assert.Equal(t, ev.Kind, out.Kind)
		assert.Equal(t, ev.Data, out.Data)
		assert.Equal(t, ev.Dur, out.Dur)
		assert.Equal(t, harness.OutcomeOf(in), harness.OutcomeOf(out.Err), "%v", in)
		assert.Equal(t, harness.ErrClass(in), harness.ErrClass(out.Err), "%v", in)
		assert.Equal(t, harness.IsTimeout(in), harness.IsTimeout(out.Err))
		assert.Equal(t, errors.Is(in, io.EOF), errors.Is(out.Err, io.EOF))
		assert.Equal(t, errors.Is(in, io.ErrClosedPipe), errors.Is(out.Err, io.ErrClosedPipe))
	}
	d := capture.Datagram{Time: now, Src: netip.MustParseAddrPort("127.0.0.1:4000"), Dst: netip.MustParseAddrPort("127.0.0.1:5000"), Payload: []byte{1, 2, 0}}
	p, b := throughJSON[PeerDatagram](t, EncodeDatagram(d))
	assert.Contains(t, string(b), `"b64":"AQIA"`)
	got, err := DecodeDatagram(p)
	require.NoError(t, err)
	assert.True(t, got.Time.Equal(now))
	got.Time = d.Time // the same instant (checked above), whatever its location
	assert.Equal(t, d, got)
	_, err = DecodeEvent(PeerEvent{Side: "client", Kind: "Jump"})
	assert.Error(t, err)
}

// pipePeer serves the protocol in this process over pipes, with the experiments of exps.
func pipePeer(t *testing.T, exps ...*harness.Experiment) *Peer {
	t.Helper()
	return shiftedPipePeer(t, 0, exps...)
}

// shiftedPipePeer is pipePeer for a peer whose clock runs shift ahead (ServePeerShifted).
func shiftedPipePeer(t *testing.T, shift time.Duration, exps ...*harness.Experiment) *Peer {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	served := make(chan error, 1)
	go func() {
		served <- ServePeerShifted(context.Background(), inR, outW, func(id string) (*harness.Experiment, error) {
			for _, e := range exps {
				if e.ID == id {
					return e, nil
				}
			}
			return nil, fmt.Errorf("no experiment %q", id)
		}, shift)
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

// TestPeerMsgWire pins the protocol's lines, as the header of peer.go writes them: a peer of another
// implementation speaks exactly these.
func TestPeerMsgWire(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		msg  PeerMsg
		want string
	}{
		{PeerMsg{Op: "hello", Impl: "kcp-go", ImplVersion: "v5.7.6", KCPGo: "v5.7.6", Proto: PeerProto, Ignores: []string{"min_rto_ms"}},
			`{"op":"hello","impl":"kcp-go","impl_version":"v5.7.6","kcp_go":"v5.7.6","proto":2,"ignores":["min_rto_ms"]}`},
		{PeerMsg{Op: "hello", Impl: "ikcp", ImplVersion: "node-kcp 1.0.13, ikcp.c sha256:0123456789ab", Proto: PeerProto},
			`{"op":"hello","impl":"ikcp","impl_version":"node-kcp 1.0.13, ikcp.c sha256:0123456789ab","proto":2}`},
		{PeerMsg{Op: "listen", Exp: "p003", Trial: 3}, `{"op":"listen","trial":3,"exp":"p003"}`},
		{PeerMsg{Op: "listen", Exp: "p003", Trial: 3, Script: mustScript(t, p003ServerScript)},
			`{"op":"listen","trial":3,"exp":"p003","script":` + p003ServerScript + `}`},
		{PeerMsg{Op: "dial", Exp: "p003", Trial: 4, Server: "127.0.0.1:4000", Script: mustScript(t, p003ClientScript)},
			`{"op":"dial","trial":4,"exp":"p003","server":"127.0.0.1:4000","script":` + p003ClientScript + `}`},
		{PeerMsg{Op: "ready", Trial: 3, Addr: "127.0.0.1:4000"}, `{"op":"ready","trial":3,"addr":"127.0.0.1:4000"}`},
		{PeerMsg{Op: "dial", Exp: "p003", Trial: 4, Server: "127.0.0.1:4000"}, `{"op":"dial","trial":4,"exp":"p003","server":"127.0.0.1:4000"}`},
		{PeerMsg{Op: "ready", Trial: 4, Addr: "127.0.0.1:5000", StartNs: 17}, `{"op":"ready","trial":4,"addr":"127.0.0.1:5000","start_ns":17}`},
		{PeerMsg{Op: "returned", Trial: 4, Side: "client", ErrClass: "timeout", Error: "i/o timeout"},
			`{"op":"returned","trial":4,"side":"client","err_class":"timeout","error":"i/o timeout"}`},
		{PeerMsg{Op: "settle", Trial: 3, QuietMs: 300, DeadlineMs: 9000}, `{"op":"settle","trial":3,"quiet_ms":300,"deadline_ms":9000}`},
		{PeerMsg{Op: "settled", Trial: 3}, `{"op":"settled","trial":3}`},
		{PeerMsg{Op: "close", Trial: 4}, `{"op":"close","trial":4}`},
		{PeerMsg{Op: "closed", Trial: 4, Closed: true}, `{"op":"closed","trial":4,"closed":true}`},
		{PeerMsg{Op: "teardown", Trial: 3}, `{"op":"teardown","trial":3}`},
		{PeerMsg{Op: "done", Trial: 3, Accepts: 1, TornDown: []bool{false}, KCPGo: "v5.7.6",
			Stalls:    []PeerStall{{FromNs: 1, ToNs: 2}},
			Datagrams: []PeerDatagram{{TNs: 5, Src: "127.0.0.1:5000", Dst: "127.0.0.1:4000", B64: []byte{1, 2, 0}}},
			Events:    []PeerEvent{{TNs: 6, Side: "server", Session: 1, Kind: "Read", N: 4, Data: []byte("ping"), DurNs: 7}}},
			`{"op":"done","trial":3,"accepts":1,"torn_down":[false],"datagrams":[{"t_ns":5,"src":"127.0.0.1:5000","dst":"127.0.0.1:4000","b64":"AQIA"}],` +
				`"events":[{"t_ns":6,"side":"server","session":1,"kind":"Read","n":4,"data_b64":"cGluZw==","dur_ns":7}],` +
				`"stalls":[{"from_ns":1,"to_ns":2}],"kcp_go":"v5.7.6"}`},
		{PeerMsg{Op: "error", Trial: 8, For: "listen", Error: "no experiment"}, `{"op":"error","trial":8,"for":"listen","error":"no experiment"}`},
	} {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(tc.msg)
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(b))
			var back PeerMsg
			require.NoError(t, json.Unmarshal(b, &back))
			assert.Equal(t, tc.msg, back)
		})
	}
}
