package experiments

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"kcplab/expect"
	"kcplab/harness"
	"kcplab/kcpwire"
)

// garbage-datagram (kcp-go issues #68, #125): stray datagrams of assorted sizes and contents reach a
// listener from addresses that never dialed it. Which of them become sessions, what does Accept
// return, and what does a server loop like the seed's do with them?
//
// Client: before using its session, sends seven stray datagrams to the listener, each from a UDP socket
// of its own (harness.Env.StraySocket: a listener keys sessions by address, so each stray is judged on
// its own), in this order: 1 zero byte; 23 zero bytes; 24 zero bytes; 24 random bytes; 12 bytes marked
// as an FEC OOB packet (bytes 4-5 = 0xf3 0x00); a well-formed KCP PUSH sn=0 of another conv carrying
// "stray"; 1400 random bytes (random bytes never carry an FEC marker at bytes 4-5). Then the series'
// time client on its own session: Write the time, Read with a deadline until an error. The stray
// sockets read nothing. Server: the series' echo loop (Read with a deadline, write back what was read,
// repeat) on every session the listener accepts; a session's remote address (harness.Trace.ServerPeer)
// tells which datagram made it. Both deadlines are 500 ms (the series uses 1 s) to keep trials short.
//
// What kcp-go v5.7.6 does with a datagram from an unknown address (Listener.packetInput,
// sess.go:1242-1368): shorter than 12 bytes, dropped (sess.go:1281-1283); bytes 4-5 are read as an FEC
// type (sess.go:1296): 0xf1 (FEC data, >= 32 bytes) and 0xf3 (OOB, >= 12 bytes) take the conv at byte
// 8 (sess.go:1299-1314), anything else needs >= 24 bytes and takes the conv at byte 0
// (sess.go:1315-1322). Any datagram with a conv makes a new session, fed the datagram and queued for
// Accept while the backlog (acceptBacklog = 128, sess.go:86) has room (sess.go:1350-1367): nothing
// checks cmd, sn or length. The session's kcp.Input rejects a header with a bad length or cmd
// (kcp.go:638-645), and an OOB packet goes to a callback nobody set (sess.go:1166-1174), so those
// sessions read nothing; a well-formed PUSH is delivered and the echo loop answers it, to an address
// that never spoke KCP. v5.6.72 has the same OOB path (sess.go:1222); releases before it (v5.6.24 and
// older) need 24 bytes, hence the class without the OOB session.
//
// Expected wire (stray datagrams and the server's answers to them have no client/server direction):
//
//	?   24 zero, 24 random, 12 OOB, 1400 random: not KCP    five sessions accepted, in this order,
//	? → PUSH sn=0 una=0 len=5 "stray"                       the PUSH's among them
//	c→s PUSH sn=0 una=0                                     the client's own request: the last session
//	s→c ACK, s→c PUSH, c→s ACK                              the echo, as in p001
//	← ? ACK sn=0 una=1, PUSH sn=0 una=1 len=5 ×n            the echo of "stray", then retransmitted
//	                                                        (+200 ms) until its session's Read
//	                                                        times out and it closes
//
// The segments' order varies, so the ladder matches any order (anySegments) and the checks decide.
var (
	garbageAll = harness.Class{
		Name:        "every stray with a conv became a session; the echo loop answered the PUSH",
		Description: "the 24-byte, 1400-byte, PUSH and 12-byte OOB strays each made a session, accepted before the client's; the echo loop read nothing from the garbage ones and echoed \"stray\" to its sender",
		Ladder:      garbageLadder,
		Checks:      []harness.Check{garbageSessions(garbageWithOOB...), garbageEchoedStray()},
	}
	garbageNoOOB = harness.Class{
		Name:        "every stray of 24 bytes or more became a session; the echo loop answered the PUSH",
		Description: "the 24-byte, 1400-byte and PUSH strays each made a session (the 12-byte OOB one did not), accepted before the client's; the echo loop echoed \"stray\" to its sender",
		Ladder:      garbageLadder,
		Checks:      []harness.Check{garbageSessions(garbageWithoutOOB...), garbageEchoedStray()},
	}
)

// The stray datagrams, by name, in the order the client sends them.
const (
	stray1      = "1 zero byte"
	stray23     = "23 zero bytes"
	stray24     = "24 zero bytes"
	stray24Rand = "24 random bytes"
	strayOOB    = "12 bytes marked FEC OOB"
	strayPush   = "KCP PUSH of another conv"
	stray1400   = "1400 random bytes"
	strayData   = "stray" // what the stray PUSH carries
)

var (
	strayOrder        = []string{stray1, stray23, stray24, stray24Rand, strayOOB, strayPush, stray1400}
	garbageWithOOB    = []string{stray24, stray24Rand, strayOOB, strayPush, stray1400}
	garbageWithoutOOB = []string{stray24, stray24Rand, strayPush, stray1400}
	// garbageLadder matches any sequence of segments: the checks decide the class.
	garbageLadder = anySegments(100, harness.C2S, harness.S2C, harness.DirUnknown)
)

func init() {
	register(&harness.Experiment{
		ID:         "garbage-datagram",
		Title:      "stray datagrams reaching a listener",
		Question:   "When stray datagrams of assorted sizes reach a kcp-go listener, which become sessions, what does Accept return, and what does the seed's echo loop do with them (kcp-go #68, #125)?",
		Answer:     garbageAnswer,
		Server:     echoLoop(garbageDeadline),
		Client:     garbageClient,
		Trials:     200,
		Timeout:    4 * time.Second,
		Classes:    []harness.Class{garbageAll, garbageNoOOB},
		Invariants: []harness.Check{garbageClientEchoed(), garbageReadsEndInTimeout(), garbageShortNoSession()},
		Measures: []harness.Measure{
			expect.Accepts(),
			{Name: "position of the client's own session in Accept order", Fn: garbageOwnPosition},
			{Name: "datagrams the server sent to stray addresses", Fn: func(tr *harness.Trace) (float64, bool) { n, _ := garbageToStrays(tr); return float64(n), true }},
			{Name: "bytes the server sent to stray addresses per byte of the stray PUSH", Fn: garbageAmplification},
		},
	})
}

// garbageClient sends each stray datagram from a stray socket of its own, then runs the series' time
// client.
func garbageClient(conn net.Conn) error {
	env, err := envOf(conn)
	if err != nil {
		return err
	}
	for _, name := range strayOrder {
		sock, err := env.StraySocket()
		if err != nil {
			return err
		}
		if _, err := sock.WriteToUDP(strayPayload(name), conn.RemoteAddr().(*net.UDPAddr)); err != nil {
			return err
		}
	}
	return requestThenRead(timeRequest, garbageDeadline)(conn)
}

// garbageDeadline is the read deadline of both roles' Reads.
const garbageDeadline = 500 * time.Millisecond

// strayPayload builds the named stray datagram.
func strayPayload(name string) []byte {
	random := func(n int) []byte {
		b := make([]byte, n)
		for {
			_, _ = rand.Read(b)
			if !(b[5] == 0 && b[4] >= 0xf1 && b[4] <= 0xf3) { // no FEC type marker
				return b
			}
		}
	}
	switch name {
	case stray1:
		return make([]byte, 1)
	case stray23:
		return make([]byte, 23)
	case stray24:
		return make([]byte, 24)
	case stray24Rand:
		return random(24)
	case strayOOB:
		b := random(12)
		b[4], b[5] = 0xf3, 0
		return b
	case strayPush:
		conv := random(24)
		s := kcpwire.Segment{Conv: binary.LittleEndian.Uint32(conv), Cmd: kcpwire.CmdPush, Wnd: rcvWnd, Data: []byte(strayData)}
		return s.AppendTo(nil)
	case stray1400:
		return random(1400)
	}
	panic("unknown stray " + name)
}

// strayKind names a datagram the listener received from a stray address by its payload.
func strayKind(p []byte) string {
	switch {
	case len(p) == 1:
		return stray1
	case len(p) == 23:
		return stray23
	case len(p) == 24 && bytes.Equal(p, make([]byte, 24)):
		return stray24
	case len(p) == 24:
		return stray24Rand
	case len(p) == 12 && p[4] == 0xf3 && p[5] == 0:
		return strayOOB
	case len(p) == kcpwire.HeaderLen+len(strayData) && bytes.HasSuffix(p, []byte(strayData)):
		return strayPush
	case len(p) == 1400:
		return stray1400
	}
	return fmt.Sprintf("unknown %d-byte datagram", len(p))
}

// garbageSessionKinds returns, per accepted session in Accept order, the stray that made it ("own"
// for the client's session, "?" when the trace does not tell).
func garbageSessionKinds(tr *harness.Trace) []string {
	out := make([]string, tr.Accepts)
	for i := range out {
		out[i] = "?"
		peer, ok := tr.ServerPeer(i + 1)
		if !ok {
			continue
		}
		if peer == tr.Client {
			out[i] = "own"
			continue
		}
		for _, dg := range tr.Datagrams {
			if dg.Src == peer && dg.Dst == tr.Server {
				out[i] = strayKind(dg.Payload)
				break
			}
		}
	}
	return out
}

// garbageSessions checks that exactly the named strays, in the order sent, made sessions, and the
// client's own session came after them.
func garbageSessions(want ...string) harness.Check {
	return checkFn("sessions accepted, in order: "+strings.Join(want, ", ")+", then the client's", func(tr *harness.Trace) error {
		got := garbageSessionKinds(tr)
		if !slices.Equal(got, append(slices.Clone(want), "own")) {
			return fmt.Errorf("accepted: %s", strings.Join(got, ", "))
		}
		return nil
	})
}

// garbageEchoedStray checks what the echo loop did with the stray sessions: the PUSH's read "stray"
// and wrote it back, every other read nothing and wrote nothing.
func garbageEchoedStray() harness.Check {
	return checkFn("the echo loop read and echoed only the stray PUSH's data", func(tr *harness.Trace) error {
		for i, kind := range garbageSessionKinds(tr) {
			want := "" // what the session should read and write back
			if kind == strayPush {
				want = strayData
			}
			read, wrote := string(tr.BytesRead(harness.Server, i+1)), string(tr.BytesWritten(harness.Server, i+1))
			if kind != "own" && (read != want || wrote != want) {
				return fmt.Errorf("server#%d (%s) read %q, wrote %q", i+1, kind, read, wrote)
			}
		}
		if n, _ := garbageToStrays(tr); n == 0 {
			return errors.New("the server sent nothing to a stray address")
		}
		return nil
	})
}

// garbageClientEchoed checks that the client's own exchange worked: it read back what it wrote.
func garbageClientEchoed() harness.Check {
	return checkFn("the client read the echo of its own request", func(tr *harness.Trace) error {
		got, want := tr.BytesRead(harness.Client, 0), tr.BytesWritten(harness.Client, 0)
		if len(want) == 0 || !bytes.Equal(got, want) {
			return fmt.Errorf("wrote %d bytes, read %d", len(want), len(got))
		}
		return nil
	})
}

// garbageShortNoSession checks that the 1- and 23-byte strays made no session.
func garbageShortNoSession() harness.Check {
	return checkFn("the 1- and 23-byte strays made no session", func(tr *harness.Trace) error {
		for i, k := range garbageSessionKinds(tr) {
			if k == stray1 || k == stray23 {
				return fmt.Errorf("server#%d was made by the %s stray", i+1, k)
			}
		}
		return nil
	})
}

// garbageReadsEndInTimeout checks that every Read that failed, on either side, failed by its deadline.
func garbageReadsEndInTimeout() harness.Check {
	return checkFn("every failed Read timed out (the echo loop's sessions end by their deadline)", func(tr *harness.Trace) error {
		for _, e := range tr.Events {
			if e.Kind == harness.EvRead && e.Err != nil && !harness.IsTimeout(e.Err) {
				return fmt.Errorf("%s", e)
			}
		}
		return nil
	})
}

// garbageToStrays counts the datagrams and bytes the server sent to addresses other than the client's.
func garbageToStrays(tr *harness.Trace) (n, size int) {
	for _, dg := range tr.Datagrams {
		if dg.Src == tr.Server && dg.Dst != tr.Client {
			n, size = n+1, size+len(dg.Payload)
		}
	}
	return n, size
}

func garbageAmplification(tr *harness.Trace) (float64, bool) {
	_, size := garbageToStrays(tr)
	return float64(size) / float64(kcpwire.HeaderLen+len(strayData)), true
}

func garbageOwnPosition(tr *harness.Trace) (float64, bool) {
	i := slices.Index(garbageSessionKinds(tr), "own")
	return float64(i + 1), i >= 0
}

func garbageAnswer(r *harness.Result) string {
	n, all, noOOB := len(r.Trials), r.Count(garbageAll), r.Count(garbageNoOOB)
	sent, amp, trials := 0, 0.0, 0
	for _, t := range r.Trials {
		if t.Err == nil && t.Trace != nil {
			k, _ := garbageToStrays(t.Trace)
			a, _ := garbageAmplification(t.Trace)
			sent, amp, trials = sent+k, amp+a, trials+1
		}
	}
	per := func(v float64) float64 { return v / float64(max(trials, 1)) }
	return fmt.Sprintf("In %d of %d trials the listener made a session of every stray of 24 bytes or more (24 zero, 24 random, 1400 random bytes, "+
		"a PUSH of another conv) and, in %d of them, of the 12-byte FEC-OOB-marked one too, never of the 1- or 23-byte ones (sess.go:1281-1322, 1350-1367); Accept returned "+
		"them all before the real client's session, the echo loop read nothing from the garbage ones until its %v deadline, and it echoed "+
		"the PUSH's data to an address that never dialed: %.1f datagrams per trial on average, %.1f× the stray's bytes.",
		all+noOOB, n, all, garbageDeadline, per(float64(sent)), per(amp))
}
