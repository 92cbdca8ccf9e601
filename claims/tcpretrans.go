package claims

import (
	"cmp"
	"slices"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"kcplab/link"
)

// tcpRetransOf counts TCP's data segments among recs (the hosts path's IPv4 packets, in the order
// they were sent) the way retransOf counts KCP's PUSH segments, by byte ranges: a segment is sent
// again when it carries a byte its side sent before, and sent after delivery when every byte it
// carries had already reached the other side in an earlier copy the link delivered. TCP echoes no
// timestamp here to tell a spurious copy by, so Spurious stays 0. Segments without payload (SYN,
// FIN, pure ACKs, window probes) are not data segments.
func tcpRetransOf(recs []link.Record) Retrans {
	var (
		r     Retrans
		ip    layers.IPv4
		tcp   layers.TCP
		flows [2]struct {
			base            uint32 // the first sequence number seen: offsets are relative to it
			seen            bool
			sent, delivered spans
		}
	)
	for _, rec := range recs {
		if ip.DecodeFromBytes(rec.Payload, gopacket.NilDecodeFeedback) != nil || ip.Protocol != layers.IPProtocolTCP ||
			tcp.DecodeFromBytes(ip.Payload, gopacket.NilDecodeFeedback) != nil || len(tcp.Payload) == 0 {
			continue
		}
		f := &flows[rec.Dir.Index()]
		if !f.seen {
			f.base, f.seen = tcp.Seq, true
		}
		lo := int64(int32(tcp.Seq - f.base)) // a run of a few MB never wraps the 32-bit space
		hi := lo + int64(len(tcp.Payload))
		r.Segments++
		if n := f.sent.overlap(lo, hi); n > 0 {
			r.Again++
			r.AgainBytes += n
			if f.delivered.overlap(lo, hi) == hi-lo {
				r.AfterDelivered++
			}
		}
		f.sent.add(lo, hi)
		if rec.DeliveredCopies() > 0 {
			f.delivered.add(lo, hi)
		} else if rec.Fate.Dropped() {
			r.Dropped++
			r.DroppedBytes += hi - lo
		}
	}
	return r
}

// spans is a set of byte offsets: sorted, disjoint, non-adjacent half-open ranges [lo, hi).
type spans []span

type span struct{ lo, hi int64 }

// add puts [lo, hi) in the set, merging the ranges it touches.
func (s *spans) add(lo, hi int64) {
	if lo >= hi {
		return
	}
	// i: the first range that ends at or after lo; j: the first that starts after hi.
	i, _ := slices.BinarySearchFunc(*s, lo, func(x span, v int64) int { return cmp.Compare(x.hi, v) })
	j := i
	for j < len(*s) && (*s)[j].lo <= hi {
		lo, hi = min(lo, (*s)[j].lo), max(hi, (*s)[j].hi)
		j++
	}
	*s = slices.Replace(*s, i, j, span{lo, hi})
}

// overlap returns how many offsets of [lo, hi) the set holds.
func (s spans) overlap(lo, hi int64) int64 {
	i, _ := slices.BinarySearchFunc(s, lo, func(x span, v int64) int { return cmp.Compare(x.hi, v+1) })
	var n int64
	for ; i < len(s) && s[i].lo < hi; i++ {
		n += min(hi, s[i].hi) - max(lo, s[i].lo)
	}
	return n
}
