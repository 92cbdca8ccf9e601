// Package harnesstest builds traces for the tests of code that reads them (classes, checks, signatures,
// reports), as net/http/httptest builds requests for handlers, and checks the runs of tests that run
// trials.
package harnesstest

import (
	"fmt"
	"time"

	"kcplab/capture"
	"kcplab/harness"
	"kcplab/kcpwire"
)

// Timeout is a deadline error as kcp-go returns it: a net.Error behind a wrapper.
var Timeout = fmt.Errorf("read: %w", timeoutErr{})

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// Exchange returns the trace of p003's delivered exchange, one segment per datagram:
//
//	  0 ms c→s PUSH sn=0 una=0 "handshake"
//	  1 ms s→c ACK  sn=0 una=1
//	  1 ms s→c PUSH sn=0 una=1 "now"
//	101 ms c→s ACK  sn=0 una=1
//
// with the client's Write and Reads (the last one timing out at 1003 ms) and the server's Read and Write,
// in the one session the listener accepted.
func Exchange() *harness.Trace {
	t0 := time.Unix(1700000000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	push := func(dir harness.Dir, sn, una uint32, data string, ms int, dg int) harness.Seg {
		return harness.Seg{Segment: kcpwire.Segment{Cmd: kcpwire.CmdPush, Sn: sn, Una: una, Len: uint32(len(data)), Data: []byte(data)},
			Dir: dir, Datagram: dg, Time: time.Duration(ms) * time.Millisecond}
	}
	ack := func(dir harness.Dir, sn, una uint32, ms int, dg int) harness.Seg {
		return harness.Seg{Segment: kcpwire.Segment{Cmd: kcpwire.CmdAck, Sn: sn, Una: una}, Dir: dir, Datagram: dg,
			Time: time.Duration(ms) * time.Millisecond}
	}
	return &harness.Trace{
		Start:     t0,
		Accepts:   1,
		Datagrams: make([]capture.Datagram, 4),
		Segments: []harness.Seg{
			push(harness.C2S, 0, 0, "handshake", 0, 0), ack(harness.S2C, 0, 1, 1, 1), push(harness.S2C, 0, 1, "now", 1, 2), ack(harness.C2S, 0, 1, 101, 3),
		},
		Events: []harness.Event{
			{Time: at(0), Side: harness.Client, Kind: harness.EvWrite, N: 9, Data: []byte("handshake")},
			{Time: at(1), Side: harness.Server, Session: 1, Kind: harness.EvRead, N: 9, Data: []byte("handshake")},
			{Time: at(1), Side: harness.Server, Session: 1, Kind: harness.EvWrite, N: 3, Data: []byte("now")},
			{Time: at(2), Side: harness.Client, Kind: harness.EvRead, N: 3, Data: []byte("now")},
			{Time: at(1003), Side: harness.Client, Kind: harness.EvRead, Err: Timeout},
		},
	}
}
