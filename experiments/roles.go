package experiments

// The seed series' roles, which several experiments run as they are or with another deadline, and the
// steps of the roles that act on the trial's processes through its harness.Env (idle-peer,
// server-restart, port-reuse, garbage-datagram).

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"kcplab/harness"
	"kcplab/script"
)

// echoDeadline is the read deadline of every Read in the echo experiments.
const echoDeadline = time.Second

// echoLoop is the series' echo loop with a read deadline of d: Read, write back what was read, repeat;
// Close when a Read or Write fails.
func echoLoop(d time.Duration) harness.Role {
	return func(conn net.Conn) error {
		defer conn.Close()
		buf := make([]byte, 4096)
		for {
			_ = conn.SetReadDeadline(time.Now().Add(d))
			n, err := conn.Read(buf)
			if err != nil {
				return err
			}
			if _, err := conn.Write(buf[:n]); err != nil {
				return err
			}
		}
	}
}

// echoServer is the series' echo loop, reading with echoDeadline.
var echoServer = echoLoop(echoDeadline)

// requestThenRead is the series' client: it writes request(), then reads with a read deadline of d
// until a Read fails, and closes.
func requestThenRead(request func() []byte, d time.Duration) harness.Role {
	return func(conn net.Conn) error {
		defer conn.Close()
		if _, err := conn.Write(request()); err != nil {
			return err
		}
		buf := make([]byte, 4096)
		for {
			_ = conn.SetReadDeadline(time.Now().Add(d))
			if _, err := conn.Read(buf); err != nil {
				return err
			}
		}
	}
}

// timeRequest is the echo series' request: the time, as text.
func timeRequest() []byte { return []byte(time.Now().String()) }

// handshake is the request of p003 and its variants.
const handshake = "handshake"

// The seed series' roles as scripts (package script): the in-process run interprets them on kcp-go, and
// a peer of any KCP implementation runs the same ones (matrix -pairs).

// timeText is the echo series' request and the seed's response: the time as Go's time.Time.String
// writes it, fixed so that a script can carry it (its length matters, not the instant).
const timeText = "2026-01-02 15:04:05.123456789 +0000 UTC m=+0.000000001"

// msOf is d in whole milliseconds, as scripts give durations.
func msOf(d time.Duration) int { return int(d / time.Millisecond) }

// echoScript is the series' echo loop: Read with echoDeadline, write back what was read, repeat; the
// session closes when a Read fails.
var echoScript = &script.Script{Actions: []script.Action{{Do: script.DoEcho, DeadlineMs: msOf(echoDeadline)}}}

// requestScript writes request, then reads with a deadline of d until a Read fails (the session then
// closes).
func requestScript(request string, d time.Duration) *script.Script {
	return &script.Script{Actions: []script.Action{
		{Do: script.DoWrite, Data: request},
		{Do: script.DoRead, DeadlineMs: msOf(d)},
	}}
}

// handshakeClient is the seed's client: "handshake", then Read with a 1 s deadline until an error.
var handshakeClient = requestScript(handshake, time.Second)

// handshakeServer is the seed's server: Read "handshake", Write the time, Close; with linger > 0 it
// first reads for that long (whatever comes, or nothing), then closes.
func handshakeServer(linger time.Duration) *script.Script {
	acts := []script.Action{
		{Do: script.DoRead, UntilBytes: len(handshake), Expect: handshake},
		{Do: script.DoWrite, Data: timeText},
	}
	if linger > 0 {
		acts = append(acts, script.Action{Do: script.DoRead, DeadlineMs: msOf(linger), MayFail: true})
	}
	return &script.Script{Actions: append(acts, script.Action{Do: script.DoClose})}
}

// settleIdle is how long a client stays idle after its first exchange before the experiment acts: the
// client's ACK of the echo leaves at its next update tick (at most updateInterval later), so after
// this nothing is in flight and no timer of either side has anything to send.
const settleIdle = 2 * updateInterval

// exchangeDeadline is the read deadline of the echo exchanges before and after the event: long enough
// that only a stalled machine of seconds could break one (the echo comes back within a millisecond).
const exchangeDeadline = 2 * time.Second

// envOf returns the harness.Env of the trial whose role was handed conn.
func envOf(conn net.Conn) (*harness.Env, error) {
	env, ok := harness.EnvOf(conn)
	if !ok {
		return nil, errors.New("the role's conn carries no harness.Env")
	}
	return env, nil
}

// echoOnce writes msg and reads until it has len(msg) bytes back, with a read deadline of d.
func echoOnce(conn net.Conn, msg string, d time.Duration) error {
	if _, err := conn.Write([]byte(msg)); err != nil {
		return err
	}
	_ = conn.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return err
	}
	if string(buf) != msg {
		return fmt.Errorf("echo %q, wrote %q", buf, msg)
	}
	return nil
}

// helloThenIdle is the first act of a client that then acts on the trial's processes: it gets the
// trial's Env, echoes "hello" (firstExchange) and stays idle for settleIdle, so that nothing is in
// flight when it returns.
func helloThenIdle(conn net.Conn) (*harness.Env, error) {
	env, err := envOf(conn)
	if err != nil {
		return nil, err
	}
	if err := echoOnce(conn, "hello", exchangeDeadline); err != nil {
		return nil, err
	}
	time.Sleep(settleIdle)
	return env, nil
}

// helloThenKill is helloThenIdle, then the server's process vanishes (harness.Env.KillServer).
func helloThenKill(conn net.Conn) (*harness.Env, error) {
	env, err := helloThenIdle(conn)
	if err == nil {
		err = env.KillServer()
	}
	return env, err
}
