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

// TestPeerRecordsRoundTrip encodes events and datagrams as the peer protocol does, through JSON, and
// checks that the rebuilt errors keep their classes for IsTimeout, ErrClass and errors.Is.
func TestPeerRecordsRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 123456789)
	errs := []error{nil, &PeerError{Class: harness.OutcomeTimeout, Msg: "i/o timeout"}, fmt.Errorf("read: %w", io.EOF),
		fmt.Errorf("x: %w", io.ErrClosedPipe), errors.New("boom")}
	for _, in := range errs {
		ev := harness.Event{Time: now, Side: harness.Server, Session: 2, Kind: harness.EvRead, N: 3, Data: []byte("abc"), Err: in, Dur: time.Second}
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
		assert.Equal(t, harness.OutcomeOf(in), harness.OutcomeOf(out.Err), "%v", in)
		assert.Equal(t, harness.ErrClass(in), harness.ErrClass(out.Err), "%v", in)
		assert.Equal(t, harness.IsTimeout(in), harness.IsTimeout(out.Err))
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
func pipePeer(t *testing.T, exps ...*harness.Experiment) *Peer {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	served := make(chan error, 1)
	go func() {
		served <- ServePeer(context.Background(), inR, outW, func(id string) (*harness.Experiment, error) {
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
