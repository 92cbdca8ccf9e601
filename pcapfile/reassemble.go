package pcapfile

import (
	"time"

	"github.com/gopacket/gopacket/ip4defrag"
	"github.com/gopacket/gopacket/ip6defrag"

	"kcplab/internal/linklayer"
)

// reassembler holds the IP fragments of UDP datagrams read so far, until each datagram is whole:
// gopacket's ip4defrag and ip6defrag, made at the first fragment of their version. The datagram is
// given at the record of the fragment that completed it, as Wireshark shows the reassembled packet
// there; until then, and for fragments that contradict each other (overlaps, RFC 8200 section 4.5),
// no datagram is.
type reassembler struct {
	v4 *ip4defrag.IPv4Defragmenter
	v6 *ip6defrag.IPv6Defragmenter
	// v4Discarded is the capture time of the last discard of stale IPv4 fragments.
	v4Discarded time.Time
	// v6Discarded and v6Wall are the capture time and the wall-clock time of the last discard of stale
	// IPv6 fragments: ip6defrag dates a datagram by the wall clock at its first fragment.
	v6Discarded, v6Wall time.Time
}

// staleAfter is how long, in capture time, a datagram may wait for its missing fragments; an IPv6 one
// waits up to twice as long (see add).
const staleAfter = time.Minute

// add adds the fragment in u (Fragment4 or Fragment6), captured at ts, and returns the datagram it
// completes, else a UDP whose OK is false.
func (r *reassembler) add(u linklayer.UDP, ts time.Time) linklayer.UDP {
	switch {
	case u.Fragment4 != nil:
		if r.v4 == nil {
			r.v4 = ip4defrag.NewIPv4Defragmenter()
		}
		// Discarding looks at every datagram held: once a second of capture time, not per fragment.
		if d := ts.Sub(r.v4Discarded); d > time.Second || d < 0 {
			r.v4.DiscardOlderThan(ts.Add(-staleAfter))
			r.v4Discarded = ts
		}
		whole, err := r.v4.DefragIPv4WithTimestamp(u.Fragment4, ts)
		if err != nil || whole == nil {
			return linklayer.UDP{}
		}
		return linklayer.FromIP(whole)
	case u.Fragment6 != nil:
		if r.v6 == nil {
			r.v6 = ip6defrag.NewIPv6Defragmenter()
		}
		// Each staleAfter of capture time, the datagrams first seen before the previous discard go: a
		// datagram waits from one to two staleAfter.
		if d := ts.Sub(r.v6Discarded); d > staleAfter || d < 0 {
			if !r.v6Wall.IsZero() {
				r.v6.DiscardOlderThan(r.v6Wall)
			}
			r.v6Discarded, r.v6Wall = ts, time.Now()
		}
		if whole := r.v6.DefragIPv6(u.Fragment6.IP, u.Fragment6.Header); whole != nil {
			return linklayer.FromIP(whole)
		}
	}
	return linklayer.UDP{}
}
