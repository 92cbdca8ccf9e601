package capture

import (
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// udpParser decodes frames of one link type into reused gopacket layers (a
// DecodingLayerParser: no allocation per frame). A frame it cannot follow to
// a UDP layer (IPv6 extension headers, tunnels, non-UDP) goes through
// decodeFrame, gopacket's full decoder. Not safe for concurrent use; the
// payload of a result aliases the frame.
type udpParser struct {
	info    linkInfo
	parsers map[gopacket.LayerType]*gopacket.DecodingLayerParser
	decoded []gopacket.LayerType

	eth   layers.Ethernet
	dot1q layers.Dot1Q
	lo    layers.Loopback
	sll   layers.LinuxSLL
	sll2  layers.LinuxSLL2
	ip4   layers.IPv4
	ip6   layers.IPv6
	udp   layers.UDP
}

func newUDPParser(info linkInfo) *udpParser {
	return &udpParser{info: info, parsers: map[gopacket.LayerType]*gopacket.DecodingLayerParser{}}
}

// parser returns the DecodingLayerParser starting at layer first.
func (p *udpParser) parser(first gopacket.LayerType) *gopacket.DecodingLayerParser {
	if dlp, ok := p.parsers[first]; ok {
		return dlp
	}
	dlp := gopacket.NewDecodingLayerParser(first, &p.eth, &p.dot1q, &p.lo, &p.sll, &p.sll2, &p.ip4, &p.ip6, &p.udp)
	dlp.IgnoreUnsupported = true
	p.parsers[first] = dlp
	return dlp
}

// decode extracts the first UDP datagram of frame.
func (p *udpParser) decode(frame []byte, ts time.Time) decoded {
	first := p.info.first
	if first == gopacket.LayerTypeZero { // raw IP: by version
		first = layers.LayerTypeIPv4
		if len(frame) > 0 && frame[0]>>4 == 6 {
			first = layers.LayerTypeIPv6
		}
	}
	// An error only means a later layer failed; what was decoded is usable.
	_ = p.parser(first).DecodeLayers(frame, &p.decoded)
	var ipl gopacket.Layer
	for _, t := range p.decoded {
		switch t {
		case layers.LayerTypeIPv4:
			ipl = &p.ip4
		case layers.LayerTypeIPv6:
			ipl = &p.ip6
		case layers.LayerTypeUDP:
			if ipl != nil {
				return udpDatagram(ipl, &p.udp, ts)
			}
		}
	}
	return decodeFrame(frame, p.info, ts)
}
