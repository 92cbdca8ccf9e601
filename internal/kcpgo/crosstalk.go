package kcpgo

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"
)

// CrossTalk measures the defect crossed.go describes: in one process, does kcp-go ever send
// one session's datagram through another session's socket? Short-lived client sessions each write a
// burst and Close at once (so their Close races the datagrams still queued), beside long-lived ones
// that keep writing, all to one listener on loopback. Each client session owns its socket, and every
// datagram that socket sends should carry that session's conv (plain framing: the conv is the first
// four bytes). CrossTalk counts those that carry another.

// CrossTalkOptions sets a CrossTalk run.
type CrossTalkOptions struct {
	Duration     time.Duration // how long sessions are started (bounded by the caller's context too)
	Closers      int           // goroutines that each start, fill and Close one session after another
	Steady       int           // long-lived sessions writing all along
	BurstBytes   int           // what each short-lived session writes before its Close
	MaxSessions  int           // a bound on the short-lived sessions started (0: 1,000,000)
	DrainTimeout time.Duration // how long the listener's sessions read after the last write
}

// CrossTalkResult is what a CrossTalk run counted.
type CrossTalkResult struct {
	Sessions int      `json:"sessions"`  // client sessions, short- and long-lived
	Sent     int64    `json:"datagrams"` // datagrams the client sessions' sockets sent
	Foreign  int64    `json:"foreign"`   // of those, how many carried another session's conv
	Examples []string `json:"examples,omitempty"`
	KCPGo    string   `json:"kcp_go"`
}

// convCheck is a client session's socket that counts the datagrams it sends whose conv is not its
// session's.
type convCheck struct {
	net.PacketConn
	conv uint32
	res  *crossTalkCounts
}

type crossTalkCounts struct {
	sent, foreign atomic.Int64
	mu            sync.Mutex
	examples      []string
}

func (c *convCheck) WriteTo(p []byte, addr net.Addr) (int, error) {
	if len(p) >= 4 {
		c.res.sent.Add(1)
		if got := binary.LittleEndian.Uint32(p); got != c.conv {
			if c.res.foreign.Add(1) <= 3 {
				c.res.mu.Lock()
				c.res.examples = append(c.res.examples, fmt.Sprintf("the socket of conv %d sent a datagram of conv %d (%d bytes)", c.conv, got, len(p)))
				c.res.mu.Unlock()
			}
		}
	}
	return c.PacketConn.WriteTo(p, addr)
}

// CrossTalk runs the measurement (see the comment at the top of crosstalk.go).
func CrossTalk(ctx context.Context, o CrossTalkOptions) (CrossTalkResult, error) {
	if o.Duration <= 0 || o.Closers <= 0 || o.Steady < 0 || o.BurstBytes <= 0 {
		return CrossTalkResult{}, errors.New("crosstalk: duration, closers and burst must be positive")
	}
	maxSessions := int64(o.MaxSessions)
	if maxSessions <= 0 {
		maxSessions = 1_000_000
	}
	drain := o.DrainTimeout
	if drain <= 0 {
		drain = time.Second
	}
	WarmWorkers() // kcp-go's workers started and parked before any session closes (workers.go)
	srvSock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return CrossTalkResult{}, err
	}
	defer srvSock.Close()
	ln, err := ServeOn(nil, 0, 0, srvSock)
	if err != nil {
		return CrossTalkResult{}, err
	}
	var readers sync.WaitGroup
	accepting := make(chan struct{})
	defer func() { ln.Close(); <-accepting; readers.Wait() }()
	stop := time.Now().Add(o.Duration)
	go func() {
		defer close(accepting)
		for {
			s, err := ln.AcceptKCP()
			if err != nil {
				return
			}
			s.SetNoDelay(1, 10, 2, 1)
			s.SetWindowSize(4096, 4096)
			readers.Add(1)
			go func() { // read until the clients are done and the session has been quiet for drain
				defer readers.Done()
				defer s.Close()
				buf := make([]byte, 64<<10)
				for {
					_ = s.SetReadDeadline(time.Now().Add(drain))
					if _, err := s.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()

	counts := &crossTalkCounts{}
	var convs atomic.Uint32
	convs.Store(uint32(time.Now().UnixNano()))
	var started atomic.Int64
	// dial returns a session and its net.Conn, whose Close also closes the socket on every release
	// (DialOn).
	dial := func() (*kcp.UDPSession, net.Conn, error) {
		sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return nil, nil, err
		}
		conv := convs.Add(1)
		s, c, err := DialOn(conv, srvSock.LocalAddr(), nil, 0, 0, &convCheck{PacketConn: sock, conv: conv, res: counts})
		if err != nil {
			sock.Close()
			return nil, nil, err
		}
		s.SetNoDelay(1, 10, 2, 1)
		s.SetWindowSize(4096, 4096)
		started.Add(1)
		return s, c, nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, o.Closers+o.Steady)
	running := func() bool { return ctx.Err() == nil && time.Now().Before(stop) }
	for range o.Steady {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, c, err := dial()
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			chunk := make([]byte, 1000)
			for running() {
				_ = s.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := s.Write(chunk); err != nil {
					if IsTimeout(err) {
						continue // its send window stayed full for a second: write again
					}
					errs <- fmt.Errorf("steady session: %w", err)
					return
				}
				time.Sleep(100 * time.Microsecond)
			}
		}()
	}
	var shortLived atomic.Int64
	burst := make([]byte, o.BurstBytes)
	for range o.Closers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; running() && shortLived.Add(1) <= maxSessions; i++ {
				_, c, err := dial()
				if err != nil {
					errs <- err
					return
				}
				_, _ = c.Write(burst)
				spin(i % 7 * 200) // vary where the Close falls in the workers' batches
				_ = c.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	res := CrossTalkResult{Sessions: int(started.Load()), Sent: counts.sent.Load(), Foreign: counts.foreign.Load(), KCPGo: Version()}
	counts.mu.Lock()
	res.Examples = counts.examples
	counts.mu.Unlock()
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return res, errors.Join(all...)
}

// spinSink keeps spin's loop from being optimized away.
var spinSink atomic.Int64

// spin busy-waits n iterations (a fraction of a microsecond per hundred).
func spin(n int) {
	x := 0
	for k := range n {
		x += k * k
	}
	spinSink.Add(int64(x))
}
