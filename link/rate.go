package link

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// DefaultQueuePackets is the rate limiter's queue when neither QueueBytes nor QueuePackets is set
// (netem's default limit).
const DefaultQueuePackets = 1000

// Rate limits a direction to a bottleneck rate with a tail-drop queue in front of it. A datagram
// leaves the bottleneck size/rate after the one before it left (or after it arrived, if the
// bottleneck was idle); the queue holds every datagram not yet fully sent, including the one being
// sent, and a datagram that would overflow it is dropped.
type Rate struct {
	BytesPerSecond int64 // > 0; 0 = no rate limit
	QueueBytes     int   // queue bound in bytes (0 = none)
	QueuePackets   int   // queue bound in datagrams (0 = none); DefaultQueuePackets if both are 0
}

func (r Rate) validate() error {
	if r.BytesPerSecond < 0 {
		return fmt.Errorf("rate %d B/s is negative", r.BytesPerSecond)
	}
	if r.QueueBytes < 0 || r.QueuePackets < 0 {
		return fmt.Errorf("queue is negative")
	}
	if r.BytesPerSecond == 0 && (r.QueueBytes != 0 || r.QueuePackets != 0) {
		return fmt.Errorf("queue needs rate")
	}
	if r.QueueBytes != 0 && r.QueuePackets != 0 {
		return fmt.Errorf("queue is bounded in bytes or in datagrams, not both")
	}
	return nil
}

// queueLimits returns the queue's bounds with the default applied.
func (r Rate) queueLimits() (bytes, packets int) {
	if r.QueueBytes == 0 && r.QueuePackets == 0 {
		return 0, DefaultQueuePackets
	}
	return r.QueueBytes, r.QueuePackets
}

// transmission returns how long size bytes take at the rate.
func (r Rate) transmission(size int) time.Duration {
	return time.Duration(int64(size) * int64(time.Second) / r.BytesPerSecond)
}

// bottleneck is the rate limiter's state: when the last admitted datagram leaves, and the queue.
type bottleneck struct {
	rate            Rate
	maxBytes, maxPk int
	busyUntil       time.Time
	q               []queued // admitted datagrams in order of departure; q[head:] still queued
	head            int
	bytes           int
}

type queued struct {
	depart time.Time
	size   int
}

func newBottleneck(r Rate) *bottleneck {
	b := &bottleneck{rate: r}
	b.maxBytes, b.maxPk = r.queueLimits()
	return b
}

// admit queues a datagram of size bytes arriving at now and returns when it leaves the bottleneck,
// or false if the queue is full (tail drop).
func (b *bottleneck) admit(now time.Time, size int) (time.Time, bool) {
	for b.head < len(b.q) && !b.q[b.head].depart.After(now) {
		b.bytes -= b.q[b.head].size
		b.head++
	}
	if b.head == len(b.q) {
		b.q, b.head = b.q[:0], 0
	} else if b.head > 1024 && b.head > len(b.q)/2 {
		b.q = append(b.q[:0], b.q[b.head:]...)
		b.head = 0
	}
	n := len(b.q) - b.head
	if (b.maxPk > 0 && n+1 > b.maxPk) || (b.maxBytes > 0 && b.bytes+size > b.maxBytes) {
		return time.Time{}, false
	}
	start := now
	if b.busyUntil.After(now) {
		start = b.busyUntil
	}
	b.busyUntil = start.Add(b.rate.transmission(size))
	b.q = append(b.q, queued{b.busyUntil, size})
	b.bytes += size
	return b.busyUntil, true
}

// rateUnits are the units of the rate key, in bytes per second per unit. Bit units are matched
// without regard to case, byte units exactly (but k and K both mean 1000).
var rateUnits = []struct {
	unit   string
	bytes  float64
	bitish bool
}{
	{"gbit", 1e9 / 8, true}, {"mbit", 1e6 / 8, true}, {"kbit", 1e3 / 8, true}, {"bit", 1.0 / 8, true},
	{"GB/s", 1e9, false}, {"MB/s", 1e6, false}, {"kB/s", 1e3, false}, {"KB/s", 1e3, false}, {"B/s", 1, false},
}

// parseRate reads "1mbit", "1.5Mbit", "100kB/s" and the like.
func parseRate(v string) (int64, error) {
	for _, u := range rateUnits {
		num, ok := cutSuffix(v, u.unit, u.bitish)
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 {
			return 0, fmt.Errorf("%q is not a positive rate (want 1mbit or 100kB/s)", v)
		}
		bps := math.Round(f * u.bytes)
		if bps < 1 || bps > 1e15 {
			return 0, fmt.Errorf("rate %q is out of range (1 B/s to 1000 TB/s)", v)
		}
		return int64(bps), nil
	}
	return 0, fmt.Errorf("%q has no rate unit (want bit, kbit, mbit, gbit, B/s, kB/s, MB/s or GB/s)", v)
}

func cutSuffix(v, suffix string, fold bool) (string, bool) {
	if len(v) <= len(suffix) {
		return "", false
	}
	head, tail := v[:len(v)-len(suffix)], v[len(v)-len(suffix):]
	if tail == suffix || (fold && strings.EqualFold(tail, suffix)) {
		return head, true
	}
	return "", false
}

// formatRate renders a rate in the largest bit unit that is exact, else in bytes per second.
func formatRate(bps int64) string {
	bits := bps * 8
	for _, u := range []struct {
		unit string
		per  int64
	}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}} {
		if bits%u.per == 0 {
			return strconv.FormatInt(bits/u.per, 10) + u.unit
		}
	}
	return formatBytes(bps) + "/s"
}

// parseQueue reads "64kB", "1500B", "1MB" or "100pkt".
func parseQueue(v string) (bytes, packets int, err error) {
	if num, ok := cutSuffix(v, "pkt", false); ok {
		n, err := strconv.Atoi(num)
		if err != nil || n <= 0 {
			return 0, 0, fmt.Errorf("%q is not a positive number of datagrams (want 100pkt)", v)
		}
		return 0, n, nil
	}
	for _, u := range []struct {
		unit string
		mul  float64
	}{{"GB", 1e9}, {"MB", 1e6}, {"kB", 1e3}, {"KB", 1e3}, {"B", 1}} {
		num, ok := cutSuffix(v, u.unit, false)
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil || math.IsNaN(f) || !(f > 0) || f*u.mul > 1<<40 {
			return 0, 0, fmt.Errorf("%q is not a positive queue size (want 64kB or 100pkt)", v)
		}
		n := int(math.Round(f * u.mul))
		if n < 1 {
			return 0, 0, fmt.Errorf("queue %q is smaller than a byte", v)
		}
		return n, 0, nil
	}
	return 0, 0, fmt.Errorf("%q has no queue unit (want B, kB, MB, GB or pkt)", v)
}

func formatQueue(r Rate) string {
	if r.QueuePackets > 0 {
		return strconv.Itoa(r.QueuePackets) + "pkt"
	}
	return formatBytes(int64(r.QueueBytes))
}

// formatBytes renders a byte count in the largest exact decimal unit: 64kB, 1500B, 2MB.
func formatBytes(n int64) string {
	switch {
	case n != 0 && n%1e9 == 0:
		return strconv.FormatInt(n/1e9, 10) + "GB"
	case n != 0 && n%1e6 == 0:
		return strconv.FormatInt(n/1e6, 10) + "MB"
	case n != 0 && n%1e3 == 0:
		return strconv.FormatInt(n/1e3, 10) + "kB"
	}
	return strconv.FormatInt(n, 10) + "B"
}
