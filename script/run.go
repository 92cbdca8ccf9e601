package script

import (
	"encoding/binary"
	"fmt"
	"net"
	"time"
)

// ReadBuffer is the size of the buffer each Read gets, as the Go roles of the experiments give theirs.
const ReadBuffer = 4096

// Run performs the script's actions on conn, in order, and returns the error that ended the role (nil
// when every action completed). It closes conn at the end unless a close action did, as a Go role's
// `defer conn.Close()` does. It does not apply the Options: the caller sets them on its session first.
//
//   - write: one conn.Write of the payload; its error ends the role.
//   - read: conn.Read into a ReadBuffer-byte buffer, repeatedly, each with a fresh read deadline
//     deadline_ms away (none when 0), until until_bytes bytes were read in all (0: until a Read fails).
//     A failing Read ends the role with its error, unless may_fail (then the next action runs).
//     expect is checked once the reading stopped without ending the role: the bytes read in all must
//     equal it, or the role ends with `expect "X", got "Y"`.
//   - echo: Read (fresh deadline each time) and Write back what was read, until one fails: that
//     error ends the role.
//   - sleep: time.Sleep.
//   - flush: nothing (a net.Conn's Write has already flushed: kcp-go's Write does).
//   - close: conn.Close; its error does not end the role (a Go role's deferred Close ignores it too).
func (s *Script) Run(conn net.Conn) error {
	closed := false
	defer func() {
		if !closed {
			_ = conn.Close()
		}
	}()
	deadlined := false // a read deadline is set on conn
	setDeadline := func(ms int) {
		switch {
		case ms > 0:
			_ = conn.SetReadDeadline(time.Now().Add(time.Duration(ms) * time.Millisecond))
			deadlined = true
		case deadlined:
			_ = conn.SetReadDeadline(time.Time{})
			deadlined = false
		}
	}
	buf := make([]byte, ReadBuffer)
	for _, a := range s.Actions {
		switch a.Do {
		case DoWrite:
			if _, err := conn.Write(a.Payload()); err != nil {
				return err
			}
		case DoRead:
			var got []byte
			for a.UntilBytes == 0 || len(got) < a.UntilBytes {
				setDeadline(a.DeadlineMs)
				n, err := conn.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					if !a.MayFail {
						return err
					}
					break
				}
			}
			if a.Expect != "" && string(got) != a.Expect {
				return fmt.Errorf("expect %q, got %q", a.Expect, got)
			}
		case DoEcho:
			for {
				setDeadline(a.DeadlineMs)
				n, err := conn.Read(buf)
				if err != nil {
					return err
				}
				if _, err := conn.Write(buf[:n]); err != nil {
					return err
				}
			}
		case DoPace:
			if err := pace(conn, a, setDeadline, buf); err != nil {
				return err
			}
		case DoSleep:
			time.Sleep(time.Duration(a.Ms) * time.Millisecond)
		case DoFlush:
		case DoClose:
			_ = conn.Close()
			closed = true
		default:
			return fmt.Errorf("script: unknown action %q", a.Do)
		}
	}
	return nil
}

// pace writes a's messages on a ticker from a goroutine of its own while it reads them back.
func pace(conn net.Conn, a Action, setDeadline func(int), buf []byte) error {
	stop := make(chan struct{})
	werr := make(chan error, 1)
	go func() {
		t := time.NewTicker(time.Duration(a.EveryMs) * time.Millisecond)
		defer t.Stop()
		msg := make([]byte, a.Size)
		for i := range a.Count {
			if i > 0 {
				select {
				case <-t.C:
				case <-stop:
					werr <- nil
					return
				}
			}
			binary.BigEndian.PutUint32(msg, uint32(i))
			if _, err := conn.Write(msg); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	var rerr error
	for got := 0; got < a.Count; got++ {
		setDeadline(a.DeadlineMs)
		if _, err := conn.Read(buf); err != nil {
			rerr = err
			break
		}
	}
	close(stop)
	if err := <-werr; rerr == nil {
		rerr = err
	}
	return rerr
}
