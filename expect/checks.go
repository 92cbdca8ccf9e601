package expect

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"kcplab/harness"
	"time"

	"kcplab/kcpwire"
)

// NoHandshake checks that nothing is on the wire before the client's first PUSH: the trial's first
// datagram is the client's and carries a PUSH with sn 0.
func NoHandshake() harness.Check {
	return harness.Check{Name: "no handshake: nothing on the wire before the client's first PUSH", Fn: func(tr *harness.Trace) error {
		if len(tr.Segments) == 0 {
			return nil
		}
		for i, s := range tr.Segments {
			if s.Dir == harness.C2S && s.Cmd == kcpwire.CmdPush {
				if i != 0 {
					return fmt.Errorf("%d segment(s) before the client's first PUSH; first: %s", i, tr.Segments[0])
				}
				if s.Sn != 0 {
					return fmt.Errorf("the client's first PUSH has sn=%d, want 0", s.Sn)
				}
				return nil
			}
		}
		return errors.New("the client sent no PUSH")
	}}
}

// OnlyDataAndAcks checks that every segment is explained by the application: a PUSH carries bytes its
// sender wrote, an ACK acknowledges a PUSH that travelled the other way before it, and there are no
// window probes. A handshake or a teardown (e.g. something sent by Close) would break it, as would a
// datagram that does not decode.
func OnlyDataAndAcks() harness.Check {
	return harness.Check{Name: "no teardown: every segment is data that was written or an ACK of data", Fn: func(tr *harness.Trace) error {
		if len(tr.DecodeErrs) > 0 {
			return tr.DecodeErrs[0]
		}
		written := map[harness.Dir][]byte{
			harness.C2S: tr.BytesWritten(harness.Client, 0),
			harness.S2C: tr.BytesWritten(harness.Server, 0),
		}
		pushed := map[harness.Dir]map[uint32]bool{harness.C2S: {}, harness.S2C: {}}
		for _, s := range tr.Segments {
			switch s.Cmd {
			case kcpwire.CmdPush:
				if s.Len == 0 || !bytes.Contains(written[s.Dir], s.Data) {
					return fmt.Errorf("%s carries bytes its sender never wrote", s)
				}
				pushed[s.Dir][s.Sn] = true
			case kcpwire.CmdAck:
				other := harness.C2S
				if s.Dir == harness.C2S {
					other = harness.S2C
				}
				if !pushed[other][s.Sn] {
					return fmt.Errorf("%s acknowledges a segment that was never sent", s)
				}
			default:
				return fmt.Errorf("unexpected control segment %s", s)
			}
		}
		return nil
	}}
}

// ReadEndsInTimeout checks that side's last Read ended with a deadline timeout (a net.Error found with
// errors.As) and that no Read returned io.EOF. When the timeout came is a timing expectation
// (ReadTimeoutAfter).
func ReadEndsInTimeout(side harness.Side) harness.Check {
	name := fmt.Sprintf("%s's Read ends in a timeout, never EOF", side)
	return harness.Check{Name: name, Fn: func(tr *harness.Trace) error {
		last, _ := lastRead(tr, side)
		for _, e := range tr.EventsOf(side, 0) {
			if e.Kind == harness.EvRead && errors.Is(e.Err, io.EOF) {
				return fmt.Errorf("%s", e)
			}
		}
		if last == nil {
			return fmt.Errorf("the %s never read", side)
		}
		if !harness.IsTimeout(last.Err) {
			return fmt.Errorf("last Read ended with %s, want timeout", harness.ErrClass(last.Err))
		}
		return nil
	}}
}

// ReadTimeoutAfter expects side's last Read to time out d after its last successful Read or Write. It
// is never early: the role sets the deadline after that call returned.
func ReadTimeoutAfter(side harness.Side, d time.Duration) harness.Timing {
	return harness.Timing{
		Name:       fmt.Sprintf("%s's Read timeout after its last Read or Write (+%v)", side, d),
		Want:       d,
		NeverEarly: true,
		Measure: func(tr *harness.Trace) (time.Duration, time.Duration, bool) {
			last, lastOK := lastRead(tr, side)
			if last == nil || lastOK == nil || !harness.IsTimeout(last.Err) {
				return 0, 0, false
			}
			return last.Time.Sub(lastOK.Time), tr.Rel(last.Time), true
		},
	}
}

// lastRead returns side's last Read and its last successful Read or Write before it (nil when none).
func lastRead(tr *harness.Trace, side harness.Side) (last, lastOK *harness.Event) {
	evs := tr.EventsOf(side, 0)
	for i := range evs {
		e := &evs[i]
		if e.Kind == harness.EvRead {
			last = e
		}
		if (e.Kind == harness.EvRead || e.Kind == harness.EvWrite) && e.Err == nil {
			lastOK = e
		}
	}
	if last != nil && lastOK != nil && lastOK.Time.After(last.Time) {
		lastOK = nil
	}
	return last, lastOK
}

// ReadGot checks that side's Reads returned exactly the bytes its peer wrote.
func ReadGot(side harness.Side) harness.Check {
	return harness.Check{Name: fmt.Sprintf("the %s read what its peer wrote", side), Fn: func(tr *harness.Trace) error {
		peer := harness.Server
		if side == harness.Server {
			peer = harness.Client
		}
		got, want := tr.BytesRead(side, 0), tr.BytesWritten(peer, 0)
		if len(want) == 0 || !bytes.Equal(got, want) {
			return fmt.Errorf("read %d bytes %q, peer wrote %d bytes", len(got), harness.Clip(got, 40), len(want))
		}
		return nil
	}}
}

// ReadNothing checks that side's Reads returned no bytes at all.
func ReadNothing(side harness.Side) harness.Check {
	return harness.Check{Name: fmt.Sprintf("the %s read nothing", side), Fn: func(tr *harness.Trace) error {
		if got := tr.BytesRead(side, 0); len(got) > 0 {
			return fmt.Errorf("read %d bytes %q", len(got), harness.Clip(got, 40))
		}
		return nil
	}}
}

// AcceptedSessions checks that the listener accepted exactly n sessions.
func AcceptedSessions(n int) harness.Check {
	return harness.Check{Name: fmt.Sprintf("the listener accepted %d session(s)", n), Fn: func(tr *harness.Trace) error {
		if tr.Accepts != n {
			return fmt.Errorf("accepted %d", tr.Accepts)
		}
		return nil
	}}
}
