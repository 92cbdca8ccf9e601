package claims

import (
	"net/netip"

	"github.com/gopacket/gopacket/layers"

	"kcplab/internal/dir"
	"kcplab/internal/kcpseq"
	"kcplab/internal/linklayer"
	"kcplab/kcpwire"
	"kcplab/link"
)

// Retrans counts a transport's data segments on the link, both ways: where its extra bandwidth goes.
// A segment is sent again when it carries data its side sent before, and sent after delivery when
// the link had delivered an earlier copy of that data: the link's account, the same for KCP and TCP,
// and needless unless the receiver discarded that copy. For KCP, spurious is the protocol's own
// evidence (kcpseq, RFC 3522's Eifel detection): an ACK echoed the ts of an earlier copy, which had
// therefore arrived; those are a part of the ones sent after delivery.
type Retrans struct {
	Segments       int `json:"segments"`        // data segments sent (KCP PUSH, TCP with payload), copies the link dropped included
	Again          int `json:"again"`           // of them, ones that carried data sent before (a KCP sn; any TCP byte)
	AfterDelivered int `json:"after_delivered"` // of those, ones whose data an earlier copy the link delivered carried (all of it, for TCP)
	Spurious       int `json:"spurious"`        // KCP: of those sent again, ones an ACK showed spurious
	Dropped        int `json:"dropped"`         // data segments the link dropped (its impairments, its queue)
	// AgainBytes and DroppedBytes are TCP's: the bytes of data sent again, and of the dropped segments.
	AgainBytes   int64 `json:"again_bytes,omitempty"`
	DroppedBytes int64 `json:"dropped_bytes,omitempty"`
	Datagrams    int   `json:"datagrams,omitempty"` // KCP datagrams analysed
}

// ends stand for the client and the server in the analysis: a case has one pair of sockets.
var ends = [2]netip.AddrPort{netip.MustParseAddrPort("198.18.0.1:1"), netip.MustParseAddrPort("198.18.0.2:2")}

// retransOf analyses the KCP datagrams among recs, in the order they were sent: on the hosts path
// IPv4 packets (others are left out), on loopback UDP payloads.
func retransOf(recs []link.Record, path Path) Retrans {
	type segKey struct {
		d        dir.Dir
		conv, sn uint32
	}
	var (
		r         Retrans
		a         kcpseq.Analysis
		d         kcpwire.Datagram
		delivered = map[segKey]bool{} // a copy of the sn that the link delivered has been sent
		ip        *linklayer.Parser
	)
	if path == Hosts {
		info, _ := linklayer.Lookup(layers.LinkTypeIPv4)
		ip = linklayer.NewParser(info)
	}
	for i, rec := range recs {
		p := rec.Payload
		if ip != nil {
			if u := ip.Decode(p); u.OK {
				p = u.Payload
			} else {
				p = nil
			}
		}
		if p == nil || d.Decode(p, kcpwire.FramingPlain) != nil {
			continue
		}
		r.Datagrams++
		src, dst := ends[0], ends[1]
		if rec.Dir == dir.S2C {
			src, dst = dst, src
		}
		marks := a.Add(i+1, rec.At, src, dst, d.Segments)
		arrived := rec.DeliveredCopies() > 0
		for j, s := range d.Segments {
			if s.Cmd != kcpwire.CmdPush {
				continue
			}
			k := segKey{rec.Dir, s.Conv, s.Sn}
			if marks[j].FirstFrame > 0 && delivered[k] {
				r.AfterDelivered++
			}
			if arrived {
				delivered[k] = true
			} else if rec.Fate.Dropped() {
				r.Dropped++
			}
		}
	}
	for _, c := range a.Conversations {
		for i := range c.Dirs {
			f := &c.Dirs[i]
			r.Segments += f.Cmds[0]
			r.Again += f.Resent()
			r.Spurious += f.Spurious
		}
	}
	return r
}
