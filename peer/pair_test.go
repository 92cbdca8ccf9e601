package peer

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/expect"
	"kcplab/harness"
	"kcplab/harness/harnesstest"
	"kcplab/internal/kcpgo"
	"kcplab/script"
)

// pingPong is an experiment whose client writes "ping" and whose server answers "pong"; each then
// lingers in a Read so that its last ACK leaves before its session closes. Its one class is the four
// segments of that exchange. Its roles are Go roles (Server, Client), the kind a kcp-go peer runs in
// process, which perform the exchange written as scripts.
func pingPong() *harness.Experiment {
	return &harness.Experiment{
		ID:     "pingpong",
		Title:  "ping, pong, close",
		Server: pingPongRole(script.Action{Do: script.DoRead, UntilBytes: 4, Expect: "ping", DeadlineMs: 2000}, script.Action{Do: script.DoWrite, Data: "pong"}),
		Client: pingPongRole(script.Action{Do: script.DoWrite, Data: "ping"}, script.Action{Do: script.DoRead, UntilBytes: 4, Expect: "pong", DeadlineMs: 2000}),
		Trials: 6,
		Quiet:  150 * time.Millisecond,
		Classes: []harness.Class{{
			Name: "answered",
			Ladder: harness.Ladder{
				harness.Push(harness.C2S).WithSn(0).WithLen(4), harness.Ack(harness.S2C).WithSn(0).WithUna(1),
				harness.Push(harness.S2C).WithSn(0).WithLen(4), harness.Ack(harness.C2S).WithSn(0),
			},
			Checks: []harness.Check{expect.ReadGot(harness.Client)},
		}},
		Invariants: []harness.Check{expect.NoHandshake(), expect.OnlyDataAndAcks()},
	}
}

// pingPongRole performs the actions, then lingers in a Read for 300 ms, whatever comes, and closes.
func pingPongRole(actions ...script.Action) harness.Role {
	s := &script.Script{Actions: append(actions, script.Action{Do: script.DoRead, DeadlineMs: 300, MayFail: true})}
	return s.Run
}

// TestRunPairInProcess runs pair trials whose two peers serve the protocol in this process: the trials
// land in the class an in-process run gives.
func TestRunPairInProcess(t *testing.T) {
	t.Parallel()
	e := pingPong()
	srv, cli := pipePeer(t, e), pipePeer(t, e)
	res, err := RunPair(context.Background(), e, harness.RunOptions{Trials: 4, Parallel: 2, KeepDir: t.TempDir()}, srv, cli)
	require.NoError(t, err)
	harnesstest.NoFailures(t, res)
	assert.Equal(t, 4, res.Counts["answered"])
	tr := res.Trials[0].Trace
	require.NotNil(t, tr)
	assert.Equal(t, 1, tr.Accepts)
	// Each datagram once: four segments, in three datagrams when the server's ACK and response share
	// one (the client's Input then ACKs at once), in four when they do not.
	assert.Len(t, tr.Segments, 4, tr.Ladder())
	assert.Len(t, tr.Datagrams, tr.Segments[len(tr.Segments)-1].Datagram+1, tr.Ladder())
	assert.Equal(t, "pong", string(tr.BytesRead(harness.Client, 0)))
	assert.Equal(t, "ping", string(tr.BytesRead(harness.Server, 1)))
	s := res.Summary()
	assert.Equal(t, kcpgo.Version(), s.KCPGoServer)
	assert.True(t, strings.HasPrefix(s.KCPGo, "server "))

	// Both roles in one peer (a pair of one release).
	res, err = RunPair(context.Background(), e, harness.RunOptions{Trials: 2, Parallel: 2, KeepDir: t.TempDir()}, srv, srv)
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
	tr := &harness.Trace{Start: time.Unix(0, at(0)), Server: netip.MustParseAddrPort(srvA), Client: netip.MustParseAddrPort(cliA)}
	require.NoError(t, assemble(tr, srv, cli))
	require.Len(t, tr.Datagrams, 3)
	assert.Equal(t, "req", string(tr.Datagrams[0].Payload))
	assert.Equal(t, harness.Client, tr.Datagrams[0].Side)
	assert.Equal(t, at(2), tr.Datagrams[1].Time.UnixNano(), "the server's record of its own datagram")
	assert.Equal(t, harness.Server, tr.Datagrams[1].Side)
	assert.Equal(t, "stray", string(tr.Datagrams[2].Payload))
	require.Len(t, tr.Events, 2)
	assert.Equal(t, harness.EvDial, tr.Events[0].Kind)
	require.Len(t, tr.ServerErr, 1)
	assert.True(t, harness.IsTimeout(tr.ServerErr[0]))
	assert.Equal(t, harness.Stalls{{From: 4 * time.Millisecond, To: 6 * time.Millisecond}}, tr.Stalls)
}

// TestAssembleKeepsCauseBeforeEffect: a client descheduled after its send stamps its request after the
// server already answered it; the server stamped the request on receipt, before it answered, so the
// request is placed at that earlier time and the response after it.
func TestAssembleKeepsCauseBeforeEffect(t *testing.T) {
	t.Parallel()
	srvA, cliA := "127.0.0.1:1000", "127.0.0.1:2000"
	at := func(ms int64) int64 { return time.Unix(100, 0).Add(time.Duration(ms) * time.Millisecond).UnixNano() }
	srv := PeerMsg{Accepts: 1, Datagrams: []PeerDatagram{
		{TNs: at(1), Src: cliA, Dst: srvA, B64: []byte("req")},  // received
		{TNs: at(2), Src: srvA, Dst: cliA, B64: []byte("resp")}, // sent, in answer
	}}
	cli := PeerMsg{Datagrams: []PeerDatagram{
		{TNs: at(5), Src: cliA, Dst: srvA, B64: []byte("req")}, // stamped late by its sender
		{TNs: at(6), Src: srvA, Dst: cliA, B64: []byte("resp")},
	}}
	tr := &harness.Trace{Start: time.Unix(0, at(0)), Server: netip.MustParseAddrPort(srvA), Client: netip.MustParseAddrPort(cliA)}
	require.NoError(t, assemble(tr, srv, cli))
	require.Len(t, tr.Datagrams, 2)
	assert.Equal(t, "req", string(tr.Datagrams[0].Payload), "the request before its answer")
	assert.Equal(t, at(1), tr.Datagrams[0].Time.UnixNano(), "the receiver's earlier stamp")
	assert.Equal(t, at(2), tr.Datagrams[1].Time.UnixNano())
}
