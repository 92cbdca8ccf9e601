package capture

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"kcplab/internal/linklayer"
)

const (
	// hubCatchUpMargin is added to the moment a Source (or the Hub) closes
	// before waiting for the reader to reach it: it covers frames the kernel
	// stamps a few microseconds out of ring order on another CPU, and a
	// loopback receive the kernel deferred to ksoftirqd for a moment.
	hubCatchUpMargin = 2 * time.Millisecond
	// hubCatchUpLimit bounds how long Close waits for the reader. It is only reached when the reader
	// is that far behind: a stalled machine holds it back by the stall and the backlog after it, and a
	// trial whose capture may be incomplete fails, so the bound is well above the longest stall a busy
	// machine shows (the stall probe's, in summary.json's load) and still ends a wedged reader's wait.
	hubCatchUpLimit = 5 * time.Second
	// hubMaxErrors consecutive read errors end the reader.
	hubMaxErrors = 100
)

// errReadTimeout is what a frameReader returns when no frame arrived within
// its read timeout.
var errReadTimeout = errors.New("capture: read timeout")

// frameReader is the capture handle a Hub reads: libpcap's in the pcap build.
type frameReader interface {
	// read returns the next frame, valid only until the next call, and its
	// capture time; errReadTimeout if none came within the read timeout.
	read() ([]byte, time.Time, error)
	// counters returns the handle's cumulative counters.
	counters() (pcapCounters, error)
	// close releases the handle; read is not called any more.
	close()
}

// pcapCounters are libpcap's cumulative statistics of one handle.
type pcapCounters struct {
	received, dropped, ifDropped int
}

// sub returns the growth from base to c.
func (c pcapCounters) sub(base pcapCounters) pcapCounters {
	return pcapCounters{c.received - base.received, c.dropped - base.dropped, c.ifDropped - base.ifDropped}
}

// Hub is one libpcap handle on an interface, shared by concurrent captures that each record only the
// datagrams to or from their own ports.
//
// One reader goroutine decodes every frame and hands it to the Source that
// registered its source or destination port (to both if two Sources own
// them); frames for no registered port are discarded. Opening one Hub per run
// instead of one capture per trial keeps the kernel work of mapping libpcap's
// ring out of the running trials. Build with the 'pcap' tag (OpenHub returns
// ErrNoPcapBuild otherwise).
//
// Completeness: a Source's Close first waits, at most a second, until the
// reader has handled every frame the kernel captured up to the moment Close
// was called (plus 2 ms): until it has handled a frame stamped at or after
// that moment (the ring is in capture order) or has found the ring empty for a
// whole read timeout (10 ms) that started after it. Only then are the ports
// unregistered, so the Source holds every datagram of its ports captured
// before Close; if the reader does not catch up in time, Close says so in its
// error. On an idle interface Close takes up to about two read timeouts.
//
// A Source's Stats: Captured is its datagrams; Dropped, IfDropped and Received
// are the growth of libpcap's counters while it was open. libpcap counts per
// handle, not per port, so a drop is charged to every Source open at the
// time: Dropped > 0 means the capture may be incomplete. A datagram longer
// than the snap length (1984 bytes of frame) is recorded cut short and
// reported in Close's error.
type Hub struct {
	iface    string
	reader   frameReader
	parser   *linklayer.Parser // used by run only
	routes   routes
	bar      barrier
	limit    time.Duration // hubCatchUpLimit; shorter in tests
	captured atomic.Int64  // datagrams handed to at least one Source

	stop    atomic.Bool
	done    chan struct{}
	readErr error // set by run before done is closed

	statsMu  sync.Mutex // serialises counters (libpcap's stats are not safe for concurrent calls)
	shut     bool       // reader closed; final holds its last counters
	final    pcapCounters
	finalErr error

	closeOnce sync.Once
	stats     Stats
	closeErr  error
}

// newHub starts a Hub reading frames of link type info from reader.
func newHub(iface string, reader frameReader, info linklayer.Info) *Hub {
	h := &Hub{iface: iface, reader: reader, parser: linklayer.NewParser(info), limit: hubCatchUpLimit, done: make(chan struct{})}
	go h.run()
	return h
}

// Source registers a capture of the datagrams to or from the given ports (at least one) and returns it.
// Its Wrap only names the side that owns a local port; it records datagrams captured from this call on (not an earlier trial's late datagrams to
// a reused port). A port another open Source registered, port 0, or a closed Hub is an error. See Hub for
// what the Source's Close guarantees and counts.
func (h *Hub) Source(ports ...uint16) (Source, error) {
	if err := h.usable(); err != nil {
		return nil, err
	}
	if len(ports) == 0 {
		return nil, errors.New("capture: hub: a Source needs at least one port")
	}
	opened := time.Now()
	base, err := h.counters()
	if err != nil {
		return nil, err
	}
	ports = slices.Clone(ports)
	slices.Sort(ports)
	s := &hubSource{hub: h, ports: slices.Compact(ports), opened: opened, base: base, rec: newRecorder()}
	if err := h.routes.add(s); err != nil {
		return nil, err
	}
	return s, nil
}

// Close waits (at most a second) until the reader has handled every frame captured so far, so that
// Sources still open get them, then stops the reader goroutine and closes the handle. Its Stats are the
// Hub's: Captured counts datagrams handed to at least one Source, the rest are libpcap's totals. It is
// idempotent; Sources still open keep their datagrams and can still be closed.
func (h *Hub) Close() (Stats, error) {
	if h == nil || h.reader == nil {
		return Stats{}, nil
	}
	h.closeOnce.Do(func() {
		errCatch := h.catchUp()
		h.routes.close()
		h.stop.Store(true)
		<-h.done
		h.statsMu.Lock()
		h.final, h.finalErr = h.reader.counters()
		h.reader.close()
		h.shut = true
		h.statsMu.Unlock()
		h.stats = Stats{Captured: int(h.captured.Load()), Received: h.final.received, Dropped: h.final.dropped, IfDropped: h.final.ifDropped}
		h.closeErr = errors.Join(errCatch, h.readErr, wrapStatsErr(h.finalErr))
	})
	return h.stats, h.closeErr
}

// usable reports an error if h was not made by OpenHub or is closed.
func (h *Hub) usable() error {
	if h == nil || h.reader == nil {
		return errors.New("capture: hub: not opened (use OpenHub)")
	}
	select {
	case <-h.done:
		if h.readErr != nil {
			return fmt.Errorf("capture: hub: reader stopped: %w", h.readErr)
		}
		return errHubClosed
	default:
		return nil
	}
}

// counters returns libpcap's counters now, or the last ones once closed.
func (h *Hub) counters() (pcapCounters, error) {
	h.statsMu.Lock()
	defer h.statsMu.Unlock()
	if h.shut {
		return h.final, wrapStatsErr(h.finalErr)
	}
	c, err := h.reader.counters()
	return c, wrapStatsErr(err)
}

// readError returns the reader's error once it has stopped, else nil.
func (h *Hub) readError() error {
	select {
	case <-h.done:
		return h.readErr
	default:
		return nil
	}
}

// catchUp waits, at most h.limit, until the reader has handled every frame
// captured up to now (plus hubCatchUpMargin): see barrier. It returns at once
// if the reader has stopped.
func (h *Hub) catchUp() error {
	at := time.Now().Add(hubCatchUpMargin)
	ch := h.bar.add(at)
	timer := time.NewTimer(h.limit)
	defer timer.Stop()
	select {
	case <-ch:
		return nil
	case <-h.done:
		h.bar.remove(ch)
		return nil
	case <-timer.C:
		h.bar.remove(ch)
		return fmt.Errorf("capture: hub on %s: the reader did not catch up within %v: datagrams captured before Close may be missing", h.iface, h.limit)
	}
}

// run reads frames until Close and hands each to the Sources of its ports.
func (h *Hub) run() {
	defer close(h.done)
	errs := 0
	for !h.stop.Load() {
		var start time.Time
		if h.bar.active() {
			start = time.Now()
		}
		frame, ts, err := h.reader.read()
		switch {
		case err == nil:
			errs = 0
			h.dispatch(frame, ts)
			h.bar.reach(ts)
		case errors.Is(err, errReadTimeout):
			errs = 0
			if !start.IsZero() {
				h.bar.reach(start)
			}
		case errors.Is(err, io.EOF):
			h.readErr = fmt.Errorf("capture: hub on %s: the capture handle ended", h.iface)
			return
		default:
			errs++
			if errs >= hubMaxErrors {
				h.readErr = fmt.Errorf("capture: hub on %s: %d read errors in a row, last: %w", h.iface, errs, err)
				return
			}
		}
	}
}

// dispatch decodes one frame and records it in the Sources of its ports.
func (h *Hub) dispatch(frame []byte, ts time.Time) {
	u := h.parser.Decode(frame)
	if !u.OK {
		return
	}
	rt := h.routes.load()
	src, dst := rt.byPort[u.Src.Port()], rt.byPort[u.Dst.Port()]
	if src == nil && dst == nil {
		return
	}
	d := Datagram{Time: ts, Src: u.Src, Dst: u.Dst, Payload: u.Payload}
	kept := false
	if src != nil {
		kept = src.record(d, u.Truncated())
	}
	if dst != nil && dst != src {
		kept = dst.record(d, u.Truncated()) || kept
	}
	if kept {
		h.captured.Add(1)
	}
}

// wrapStatsErr labels an error from libpcap's statistics.
func wrapStatsErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("capture: live: stats: %w", err)
}
