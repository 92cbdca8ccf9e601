package kcpgo

import (
	"bytes"
	"net"
	"runtime"
	"sync"
	"time"
)

// kcp-go v5.7.3 and later start a pool of post-process workers at the process's first send
// (postprocess.go:172-178); each takes a batch from a sync.Pool as it starts (postprocess.go:184). A
// worker that meets a closed session puts its batch back in that pool and keeps using it
// (flushTx, postprocess.go:84-90), so a worker that starts after that takes the same batch, and two
// workers fill and send one batch at once: the race detector reports the two workers in oneBuf
// (postprocess.go:58), and recycle can panic with "index out of range" (postprocess.go:67), which ends
// the process (RESULTS.md tells how kcplab met it). Once every worker has started, nothing takes from
// that pool again. So before the first trial (and before CrossTalk's sessions close), WarmWorkers makes
// kcp-go start its pool and waits until every worker is parked, waiting for work.

var warmOnce sync.Once

// WarmWorkers runs once per process: a session sends one datagram to a listener, which starts kcp-go's
// workers (on releases that have them), then it waits, at most warmWorkersLimit, until every worker
// goroutine is parked in its wait for work.
func WarmWorkers() {
	warmOnce.Do(func() {
		srv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return
		}
		defer srv.Close()
		ln, err := ServeOn(nil, 0, 0, srv)
		if err != nil {
			return
		}
		defer ln.Close()
		cli, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return
		}
		// Its conv is registered like a trial's, so that a datagram of it crossing a trial is seen.
		conv, err := (&Owner{Exp: "kcp-go warm-up"}).NewConv()
		if err != nil {
			cli.Close()
			return
		}
		_, c, err := DialOn(conv, srv.LocalAddr(), nil, 0, 0, cli)
		if err != nil {
			cli.Close()
			return
		}
		defer c.Close() // the session, and its socket on every release (DialOn)
		if _, err := c.Write([]byte{0}); err != nil {
			return
		}
		_ = ln.SetDeadline(time.Now().Add(warmWorkersLimit))
		if a, err := ln.AcceptKCP(); err == nil {
			defer a.Close()
			_ = a.SetReadDeadline(time.Now().Add(warmWorkersLimit))
			_, _ = a.Read(make([]byte, 1))
		}
		deadline := time.Now().Add(warmWorkersLimit)
		stacks := make([]byte, 1<<20)
		for !WorkersParked(stacks) && time.Now().Before(deadline) {
			runtime.Gosched()
			time.Sleep(time.Millisecond) // polls a state no event announces, bounded by deadline
		}
	})
}

// warmWorkersLimit bounds WarmWorkers.
const warmWorkersLimit = 2 * time.Second

// WorkersParked reports whether no kcp-go post-process worker goroutine is still to start or busy: each
// is parked in its wait for work (sync.Cond.Wait). True when the release has no such workers. buf holds
// the goroutine stacks (its size bounds what is read).
func WorkersParked(buf []byte) bool {
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if !bytes.Contains(g, []byte("kcp-go/v5.postProcessWorker(")) {
			continue
		}
		header, _, _ := bytes.Cut(g, []byte("\n"))
		if !bytes.Contains(header, []byte("[sync.Cond.Wait")) {
			return false
		}
	}
	return true
}
