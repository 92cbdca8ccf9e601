package claims

import (
	"net/netip"

	"kcplab/internal/dir"
	"kcplab/internal/kcpseq"
	"kcplab/kcpwire"
	"kcplab/link"
)

// Retrans counts KCP's PUSH segments on the link, both ways, by KCP's sequence analysis (kcpseq): a
// PUSH that repeats an sn its side sent before is sent again, and one sent again is spurious when an
// ACK echoes the ts of an earlier copy, which had therefore arrived. Where KCP's extra bandwidth goes.
type Retrans struct {
	Pushes    int `json:"pushes"`    // PUSH segments sent, copies the link dropped included
	Again     int `json:"again"`     // of them, repeats of an sn sent before
	Spurious  int `json:"spurious"`  // of those, repeats an ACK showed spurious
	Dropped   int `json:"dropped"`   // PUSH segments in datagrams the link dropped
	Datagrams int `json:"datagrams"` // KCP datagrams analysed
}

// ends stand for the client and the server in the analysis: a case has one pair of sockets.
var ends = [2]netip.AddrPort{netip.MustParseAddrPort("198.18.0.1:1"), netip.MustParseAddrPort("198.18.0.2:2")}

// retransOf analyses the KCP datagrams among recs, in the order they were sent: on the hosts path
// IPv4 packets (others are left out), on loopback UDP payloads.
func retransOf(recs []link.Record, path Path) Retrans {
	var (
		r Retrans
		a kcpseq.Analysis
		d kcpwire.Datagram
	)
	for i, rec := range recs {
		p := rec.Payload
		if path == Hosts {
			p = udpPayload(p)
		}
		if p == nil || d.Decode(p, kcpwire.FramingPlain) != nil {
			continue
		}
		r.Datagrams++
		src, dst := ends[0], ends[1]
		if rec.Dir == dir.S2C {
			src, dst = dst, src
		}
		a.Add(i+1, rec.At, src, dst, d.Segments)
		if rec.Fate.Dropped() {
			for _, s := range d.Segments {
				if s.Cmd == kcpwire.CmdPush {
					r.Dropped++
				}
			}
		}
	}
	for _, c := range a.Conversations {
		for i := range c.Dirs {
			f := &c.Dirs[i]
			r.Pushes += f.Cmds[0]
			r.Again += f.Resent()
			r.Spurious += f.Spurious
		}
	}
	return r
}

// udpPayload returns the UDP payload of an IPv4 packet, or nil when p is not one.
func udpPayload(p []byte) []byte {
	if len(p) < 20 || p[0]>>4 != 4 || p[9] != 17 {
		return nil
	}
	h := int(p[0]&0x0f) * 4
	if h < 20 || len(p) < h+8 {
		return nil
	}
	return p[h+8:]
}
