package link

import (
	"container/heap"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"kcplab/internal/dir"
	"kcplab/internal/sockopt"
)

// DefaultMaxPending bounds the datagrams a direction holds for later sending (see WithMaxPending).
const DefaultMaxPending = 1 << 16

// Option changes how a Link records.
type Option func(*options)

type options struct {
	payloads   bool
	noRecords  bool
	maxPending int
}

// WithPayloads keeps a copy of every datagram's bytes in its Record (for writing the datagrams the
// link dropped into a capture).
func WithPayloads() Option { return func(o *options) { o.payloads = true } }

// WithoutRecords keeps only the Stats, not a Record per datagram (for long runs and benchmarks).
func WithoutRecords() Option { return func(o *options) { o.noRecords = true } }

// WithMaxPending bounds the copies a direction holds for later sending; beyond it the link drops
// them as FateOverflow. The default is DefaultMaxPending.
func WithMaxPending(n int) Option { return func(o *options) { o.maxPending = n } }

// Link is a seeded user-space link with impairments per direction. Wrap each side's socket with
// it; Close it after the sockets.
type Link struct {
	cfg       Config
	seed      uint64
	start     time.Time
	opt       options
	dirs      [2]*dirLink
	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// dirLink is one direction of a Link.
type dirLink struct {
	l    *Link
	dir  dir.Dir
	wake chan struct{}

	mu       sync.Mutex // guards what follows up to wmu
	eng      *engine
	n        uint64 // WriteTo calls so far
	recs     recordStore
	cnt      counters
	q        schedHeap // copies waiting for their due time
	seq      uint64    // tie-break of equal due times: order of writing
	inflight int       // copies being written outside mu
	closed   bool
	sched    bool // a scheduler runs for this direction

	wmu  sync.Mutex // serialises the writes to the sockets, so Wire is the order of the syscalls
	wire int64
}

// New returns a link with the impairments of cfg, whose random decisions come from seed and whose
// blackhole windows count from start (time.Now() if zero). It starts one scheduler goroutine per
// direction that can delay datagrams; Close stops them.
func New(cfg Config, seed uint64, start time.Time, opts ...Option) (*Link, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if start.IsZero() {
		start = time.Now()
	}
	l := &Link{cfg: cfg, seed: seed, start: start, stop: make(chan struct{})}
	l.opt.maxPending = DefaultMaxPending
	for _, o := range opts {
		o(&l.opt)
	}
	if l.opt.maxPending <= 0 {
		return nil, fmt.Errorf("link: max pending %d: want > 0", l.opt.maxPending)
	}
	for _, d := range dir.Both {
		dc := cfg.Dir(d)
		dl := &dirLink{l: l, dir: d, wake: make(chan struct{}, 1), eng: newEngine(dc, seed, d, start)}
		l.dirs[d.Index()] = dl
		if dc.needsScheduler() {
			dl.sched = true
			l.wg.Add(1)
			go dl.run()
		}
	}
	return l, nil
}

// Config returns the link's impairments.
func (l *Link) Config() Config { return l.cfg }

// Seed returns the link's seed.
func (l *Link) Seed() uint64 { return l.seed }

// Start returns the link's time origin (of the blackhole windows and Record.At).
func (l *Link) Start() time.Time { return l.start }

// Wrap returns conn with d's impairments applied to what is written to it (the egress of the side
// that owns conn: the client's socket for dir.C2S, the server's for dir.S2C). Reads are unchanged.
// Several conns may be wrapped for one direction; they share its impairments and numbering.
func (l *Link) Wrap(conn net.PacketConn, d dir.Dir) *Conn {
	if !d.Valid() {
		panic(fmt.Sprintf("link: Wrap: bad direction %d", d))
	}
	c := &Conn{Forward: sockopt.NewForward(conn, "link"), d: l.dirs[d.Index()]}
	if ua, ok := conn.LocalAddr().(*net.UDPAddr); ok {
		c.src = ua.AddrPort()
	}
	return c
}

// Close stops the schedulers and returns once they are gone. Copies still in the link are recorded
// as FateClosed; later writes to the wrapped conns fail with net.ErrClosed. It does not close the
// wrapped conns. Close is idempotent.
func (l *Link) Close() error {
	l.closeOnce.Do(func() {
		close(l.stop)
		l.wg.Wait()
		for _, d := range l.dirs {
			d.mu.Lock()
			d.closed = true
			for _, it := range d.q {
				d.finishLocked(it, time.Time{}, -1, errLinkClosed)
				itemPool.Put(it)
			}
			d.q = nil
			d.mu.Unlock()
		}
	})
	return nil
}

var errLinkClosed = errors.New("link closed")

// Stats returns what the link did in direction d so far.
func (l *Link) Stats(d dir.Dir) Stats {
	dl := l.dirs[d.Index()]
	dl.mu.Lock()
	defer dl.mu.Unlock()
	return dl.cnt.snapshot()
}

// Pending returns how many copies both directions hold for later sending. A trial that waits for
// the wire to go quiet should also wait for this to reach zero: a delayed datagram is silent until
// its due time.
func (l *Link) Pending() uint64 {
	return l.Stats(dir.C2S).Pending + l.Stats(dir.S2C).Pending
}

// RecordsOf returns a copy of direction d's records, in Index order.
func (l *Link) RecordsOf(d dir.Dir) []Record {
	dl := l.dirs[d.Index()]
	dl.mu.Lock()
	defer dl.mu.Unlock()
	return dl.recs.all()
}

// Records returns a copy of both directions' records in the order they were sent (by Sent; C2S
// first on a tie).
func (l *Link) Records() []Record {
	rs := append(l.RecordsOf(dir.C2S), l.RecordsOf(dir.S2C)...)
	slices.SortStableFunc(rs, func(a, b Record) int { return a.Sent.Compare(b.Sent) })
	return rs
}

// WireCopy names one copy the link wrote to the socket: the datagram's Index and the copy (0 the
// datagram, 1 its duplicate).
type WireCopy struct {
	Index uint64
	Copy  int
}

// Wire returns direction d's delivered copies in Wire order: its n-th element is the n-th datagram
// the link wrote in d, which is the n-th datagram a capture below the link sees from that side.
// It is built from the records, so it is empty under WithoutRecords.
func (l *Link) Wire(d dir.Dir) []WireCopy {
	recs := l.RecordsOf(d)
	var out []WireCopy
	for _, r := range recs {
		for k, c := range r.Copies[:r.Copied] {
			if c.Fate != FateDelivered {
				continue
			}
			for int64(len(out)) <= c.Wire {
				out = append(out, WireCopy{})
			}
			out[c.Wire] = WireCopy{r.Index, k}
		}
	}
	return out
}

// Summary is what a trial's summary needs from its link: the seed that replays it, its canonical
// SPEC, and what it did per direction.
type Summary struct {
	Seed uint64 `json:"seed"`
	Spec string `json:"spec"`
	C2S  Stats  `json:"c2s"`
	S2C  Stats  `json:"s2c"`
}

// Summary returns the link's seed, SPEC and Stats.
func (l *Link) Summary() Summary {
	return Summary{Seed: l.seed, Spec: l.cfg.String(), C2S: l.Stats(dir.C2S), S2C: l.Stats(dir.S2C)}
}

// item is a copy waiting in the scheduler.
type item struct {
	due    time.Time
	seq    uint64
	c      *Conn
	addr   net.Addr
	buf    []byte
	index  uint64 // the datagram's Index
	copy   int    // 0 or 1
	sent   time.Time
	delay  time.Duration
	queued bool // went through the scheduler (counted in Stats.Pending)

	// set by deliver
	at   time.Time
	wire int64
	err  error
}

var itemPool = sync.Pool{New: func() any { return new(item) }}

type schedHeap []*item

func (h schedHeap) Len() int { return len(h) }
func (h schedHeap) Less(i, j int) bool {
	if c := h[i].due.Compare(h[j].due); c != 0 {
		return c < 0
	}
	return h[i].seq < h[j].seq
}
func (h schedHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *schedHeap) Push(x any)   { *h = append(*h, x.(*item)) }
func (h *schedHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return it
}

// write applies the direction's impairments to one datagram written to c.
func (d *dirLink) write(c *Conn, p []byte, addr net.Addr) (int, error) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return 0, net.ErrClosed
	}
	now := time.Now() // under mu, so that a direction's send times are in the order of its decisions
	idx := d.n
	d.n++
	pl := d.eng.decide(idx, now, len(p))
	d.cnt.Sent++
	d.cnt.SentBytes += uint64(len(p))
	rec := Record{Dir: d.dir, Index: idx, Size: len(p), Sent: now, At: now.Sub(d.l.start), Copied: pl.copies, Fate: pl.fate,
		Src: c.src}
	if ua, ok := addr.(*net.UDPAddr); ok {
		rec.Dst = ua.AddrPort()
	}
	if pl.copies == 0 {
		d.cnt.Dropped.add(pl.fate)
	} else if pl.copies == 2 {
		d.cnt.Duplicated++
	}
	var direct [2]bool
	nd := 0
	for k := range pl.copies {
		cp := &rec.Copies[k]
		cp.Wire = -1
		switch {
		case pl.cfate[k] != FatePending:
			cp.Fate = pl.cfate[k]
			d.cnt.Dropped.add(cp.Fate)
		case !pl.due[k].After(now) && (!d.sched || len(d.q) == 0 && d.inflight == 0):
			// Due now and nothing scheduled before it: write it from this goroutine. (Without a
			// scheduler nothing is ever scheduled; concurrent writers are not ordered anyway.)
			direct[k] = true
			nd++
		case len(d.q) >= d.l.opt.maxPending:
			cp.Fate = FateOverflow
			d.cnt.Dropped.add(cp.Fate)
		default:
			cp.Delay = pl.due[k].Sub(now)
			it := itemPool.Get().(*item)
			*it = item{due: pl.due[k], seq: d.seq, c: c, addr: addr, buf: append(it.buf[:0], p...),
				index: idx, copy: k, sent: now, delay: cp.Delay, queued: true}
			d.seq++
			heap.Push(&d.q, it)
			d.cnt.Pending++
			if d.q[0] == it {
				select {
				case d.wake <- struct{}{}:
				default:
				}
			}
		}
	}
	if pl.copies > 0 {
		rec.Fate = rec.Copies[0].Fate
	}
	if d.l.opt.payloads {
		rec.Payload = slices.Clone(p)
	}
	if !d.l.opt.noRecords {
		d.recs.append(rec)
	}
	d.inflight += nd
	d.mu.Unlock()
	if nd == 0 {
		return len(p), nil
	}

	var at [2]time.Time
	var wire = [2]int64{-1, -1}
	var errs [2]error
	// A copy written at once was handed to the socket when WriteTo was called, unless another write
	// held the socket (then the time is taken again).
	first := now
	if !d.wmu.TryLock() {
		d.wmu.Lock()
		first = time.Time{}
	}
	for k := range pl.copies {
		if direct[k] {
			if at[k] = first; at[k].IsZero() || k == 1 {
				at[k] = time.Now()
			}
			if _, errs[k] = c.Unwrap().WriteTo(p, addr); errs[k] == nil {
				wire[k] = d.wire
				d.wire++
			}
		}
	}
	d.wmu.Unlock()
	d.mu.Lock()
	for k := range pl.copies {
		if direct[k] {
			d.finishLocked(&item{index: idx, copy: k, buf: p, sent: now}, at[k], wire[k], errs[k])
		}
	}
	d.inflight -= nd
	d.mu.Unlock()
	if direct[0] && errs[0] != nil {
		return 0, errs[0]
	}
	return len(p), nil
}

// finishLocked records the end of a copy: written at `at` as the wire-th datagram, or failed with err.
func (d *dirLink) finishLocked(it *item, at time.Time, wire int64, err error) {
	fate := FateDelivered
	switch {
	case err == nil:
		d.cnt.delivered(len(it.buf), it.delay, at.Sub(it.sent)-it.delay)
	case errors.Is(err, errLinkClosed):
		fate, err = FateClosed, nil
		d.cnt.Closed++
	case errors.Is(err, net.ErrClosed):
		fate = FateClosed
		d.cnt.Closed++
	default:
		fate = FateError
		d.cnt.Errors++
	}
	if it.queued {
		d.cnt.Pending--
	}
	if d.l.opt.noRecords {
		return
	}
	r := d.recs.at(it.index)
	cp := &r.Copies[it.copy]
	cp.Fate, cp.Wire, cp.Err = fate, wire, err
	if fate == FateDelivered {
		cp.Delivered = at
	}
	if it.copy == 0 {
		r.Fate = fate
	}
}

// run is the direction's scheduler: it writes each waiting copy at its due time.
func (d *dirLink) run() {
	defer d.l.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var batch []*item
	for {
		d.mu.Lock()
		now := time.Now()
		batch = batch[:0]
		for len(d.q) > 0 && !d.q[0].due.After(now) {
			batch = append(batch, heap.Pop(&d.q).(*item))
		}
		d.inflight += len(batch)
		wait := time.Duration(-1)
		if len(d.q) > 0 {
			wait = d.q[0].due.Sub(now)
		}
		d.mu.Unlock()

		if len(batch) > 0 {
			d.deliver(batch)
			clear(batch)
			select {
			case <-d.l.stop:
				return
			default:
			}
			continue
		}
		if wait >= 0 {
			timer.Reset(wait)
		}
		select {
		case <-d.wake:
		case <-timer.C:
		case <-d.l.stop:
			timer.Stop()
			return
		}
		timer.Stop()
	}
}

// deliver writes a batch of due copies in order and records them.
func (d *dirLink) deliver(batch []*item) {
	d.wmu.Lock()
	for _, it := range batch {
		it.at, it.wire = time.Now(), -1
		if _, it.err = it.c.Unwrap().WriteTo(it.buf, it.addr); it.err == nil {
			it.wire = d.wire
			d.wire++
		}
	}
	d.wmu.Unlock()
	d.mu.Lock()
	for _, it := range batch {
		d.finishLocked(it, it.at, it.wire, it.err)
	}
	d.inflight -= len(batch)
	d.mu.Unlock()
	for _, it := range batch {
		it.c, it.addr, it.err = nil, nil, nil
		itemPool.Put(it)
	}
}
