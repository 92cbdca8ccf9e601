package link

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"kcplab/internal/dir"
)

// Fate is what the link did with a datagram (or with one copy of it).
type Fate uint8

// Fates. The drop reasons are those for which Dropped is true.
const (
	FatePending   Fate = iota // in the link, not yet on the socket
	FateDelivered             // written to the real socket (the kernel took it)
	FateLoss                  // dropped: independent loss
	FateBurst                 // dropped: burst loss (Gilbert model)
	FateDropList              // dropped: its index is in the drop list
	FateBlackhole             // dropped: sent inside a blackhole window
	FateQueueFull             // dropped: the rate limiter's queue was full (tail drop)
	FateOverflow              // dropped: the link already held its maximum of pending datagrams
	FateClosed                // still in the link when the link or the sending socket was closed
	FateError                 // the real socket's WriteTo failed (Copy.Err)
)

var fateNames = [...]string{"pending", "delivered", "loss", "burst", "droplist", "blackhole", "queue-full",
	"overflow", "closed", "error"}

// String returns the fate's short name: "delivered", "loss", "queue-full", ...
func (f Fate) String() string {
	if int(f) < len(fateNames) {
		return fateNames[f]
	}
	return fmt.Sprintf("Fate(%d)", uint8(f))
}

// MarshalText renders the fate's name, for JSON.
func (f Fate) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// Dropped reports whether the fate is a drop by one of the link's impairments.
func (f Fate) Dropped() bool { return f >= FateLoss && f <= FateOverflow }

// Copy is one copy of a datagram the link let through its drop decisions: the datagram itself,
// or its duplicate.
type Copy struct {
	Fate      Fate          // FatePending, FateDelivered, FateQueueFull, FateOverflow, FateClosed or FateError
	Delay     time.Duration // added delay planned by the link (queueing + delay + jitter), from Record.Sent to its due time
	Delivered time.Time     // when the link handed it to the real socket (zero unless delivered)
	Wire      int64         // 0-based position among the datagrams the link wrote in its direction; -1 unless delivered
	Err       error         // the socket's error, for FateError and FateClosed from a closed socket
}

// Late returns how much later than planned the link handed the copy to the socket (its
// scheduling error); zero unless delivered.
func (c Copy) Late(sent time.Time) time.Duration {
	if c.Fate != FateDelivered {
		return 0
	}
	return c.Delivered.Sub(sent) - c.Delay
}

// Record is the fate of one datagram written to a wrapped conn.
type Record struct {
	Dir     dir.Dir
	Index   uint64         // the n-th WriteTo in Dir, 0-based
	Size    int            // bytes
	Src     netip.AddrPort // the wrapped conn's local address (may be 0.0.0.0:port); zero if not UDP
	Dst     netip.AddrPort // WriteTo's address; zero if not a *net.UDPAddr
	Sent    time.Time      // when WriteTo was called
	At      time.Duration  // Sent relative to the link's start
	Fate    Fate           // a drop reason if Copied == 0, else the fate of Copies[0]
	Copied  int            // copies the link made: 0 (dropped outright), 1, or 2 (duplicated)
	Copies  [2]Copy        // the first Copied are valid: [0] the datagram, [1] its duplicate
	Payload []byte         // a copy of the datagram, only with WithPayloads
}

// Duplicated reports whether the link sent the datagram twice.
func (r Record) Duplicated() bool { return r.Copied == 2 }

// DeliveredCopies returns how many copies reached the real socket.
func (r Record) DeliveredCopies() int {
	n := 0
	for _, c := range r.Copies[:r.Copied] {
		if c.Fate == FateDelivered {
			n++
		}
	}
	return n
}

// String describes the record in one line, e.g. "link c2s #4 (120 B): delivered, delayed 30.1ms"
// or "link s2c #0 (24 B): dropped by the link (loss)", for a pcapng comment.
func (r Record) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "link %s #%d (%d B): ", r.Dir.Key(), r.Index, r.Size)
	if r.Copied == 0 {
		fmt.Fprintf(&b, "dropped by the link (%s)", r.Fate)
		return b.String()
	}
	for i, c := range r.Copies[:r.Copied] {
		if i == 1 {
			b.WriteString("; duplicate: ")
		}
		switch {
		case c.Fate.Dropped():
			fmt.Fprintf(&b, "dropped by the link (%s)", c.Fate)
		case c.Fate == FateDelivered:
			b.WriteString("delivered")
			if c.Delay > 0 {
				fmt.Fprintf(&b, ", delayed %v", c.Delay)
			}
		default:
			b.WriteString(c.Fate.String())
			if c.Err != nil {
				fmt.Fprintf(&b, " (%v)", c.Err)
			}
		}
	}
	return b.String()
}

// Stats counts what the link did in one direction.
type Stats struct {
	Sent           uint64        `json:"sent"`            // WriteTo calls
	SentBytes      uint64        `json:"sent_bytes"`      // bytes of those calls
	Delivered      uint64        `json:"delivered"`       // copies written to the real socket, duplicates included
	DeliveredBytes uint64        `json:"delivered_bytes"` // bytes of those copies
	Dropped        Drops         `json:"dropped"`         // copies dropped, per reason
	Duplicated     uint64        `json:"duplicated"`      // datagrams the link sent twice
	Delayed        uint64        `json:"delayed"`         // delivered copies with a planned added delay > 0
	MeanDelay      time.Duration `json:"mean_delay_ns"`   // mean planned added delay of the delivered copies
	MaxDelay       time.Duration `json:"max_delay_ns"`    // largest planned added delay of a delivered copy
	MeanLate       time.Duration `json:"mean_late_ns"`    // mean time the delayed copies were written after their due time
	Pending        uint64        `json:"pending"`         // copies still in the link
	Closed         uint64        `json:"closed"`          // copies still in the link when it or the sending socket closed
	Errors         uint64        `json:"errors"`          // copies whose socket write failed
}

// Drops counts the copies dropped by each impairment.
type Drops struct {
	Loss      uint64 `json:"loss"`
	Burst     uint64 `json:"burst"`
	DropList  uint64 `json:"droplist"`
	Blackhole uint64 `json:"blackhole"`
	QueueFull uint64 `json:"queue_full"`
	Overflow  uint64 `json:"overflow"`
}

// Total returns the number of dropped copies.
func (d Drops) Total() uint64 {
	return d.Loss + d.Burst + d.DropList + d.Blackhole + d.QueueFull + d.Overflow
}

func (d *Drops) add(f Fate) {
	switch f {
	case FateLoss:
		d.Loss++
	case FateBurst:
		d.Burst++
	case FateDropList:
		d.DropList++
	case FateBlackhole:
		d.Blackhole++
	case FateQueueFull:
		d.QueueFull++
	case FateOverflow:
		d.Overflow++
	}
}

// counters are a direction's running Stats.
type counters struct {
	Stats
	delaySum, lateSum time.Duration
	lateN             uint64
}

func (c *counters) delivered(size int, delay, late time.Duration) {
	c.Delivered++
	c.DeliveredBytes += uint64(size)
	c.delaySum += delay
	if delay > 0 {
		c.Delayed++
		c.lateSum += late
		c.lateN++
	}
	c.MaxDelay = max(c.MaxDelay, delay)
}

func (c *counters) snapshot() Stats {
	s := c.Stats
	if c.Delivered > 0 {
		s.MeanDelay = c.delaySum / time.Duration(c.Delivered)
	}
	if c.lateN > 0 {
		s.MeanLate = c.lateSum / time.Duration(c.lateN)
	}
	return s
}

// recordChunk is how many records a chunk of a recordStore holds.
const recordChunk = 1024

// recordStore holds a direction's records in fixed-size chunks, so that appending never copies
// the records already kept.
type recordStore struct {
	chunks [][]Record
	n      int
}

func (s *recordStore) append(r Record) {
	if s.n%recordChunk == 0 {
		s.chunks = append(s.chunks, make([]Record, 0, recordChunk))
	}
	c := &s.chunks[len(s.chunks)-1]
	*c = append(*c, r)
	s.n++
}

func (s *recordStore) at(i uint64) *Record { return &s.chunks[i/recordChunk][i%recordChunk] }

func (s *recordStore) all() []Record {
	out := make([]Record, 0, s.n)
	for _, c := range s.chunks {
		out = append(out, c...)
	}
	return out
}
