// Package linklayer finds the UDP datagram in a captured frame of the link
// types kcplab reads (Ethernet, BSD Null/Loop, Linux SLL/SLL2, raw IP),
// without allocating per frame (an IP fragment is copied, for its
// reassembly). Both the capture files (pcapfile) and live capture (capture's
// libpcap hub) use it.
package linklayer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// decodeRawIP decodes a raw IP packet (LINKTYPE_RAW) by its version nibble.
var decodeRawIP = gopacket.DecodeFunc(func(data []byte, p gopacket.PacketBuilder) error {
	if len(data) < 1 {
		p.SetTruncated()
		return errors.New("raw IP packet is empty")
	}
	switch data[0] >> 4 {
	case 4:
		return layers.LayerTypeIPv4.Decode(data, p)
	case 6:
		return layers.LayerTypeIPv6.Decode(data, p)
	}
	return fmt.Errorf("raw IP packet has IP version %d", data[0]>>4)
})

// Info is how a supported link type is named and decoded.
type Info struct {
	Name    string             // e.g. "Ethernet", "Null", "Linux SLL"
	decoder gopacket.Decoder   // for gopacket.NewPacket
	first   gopacket.LayerType // first layer for a DecodingLayerParser; LayerTypeZero: IPv4 or IPv6 by version
}

// types are the supported link types. LINKTYPE_RAW also appears as DLT 12
// or 14 on some systems.
var types = map[layers.LinkType]Info{
	layers.LinkTypeEthernet:  {"Ethernet", layers.LayerTypeEthernet, layers.LayerTypeEthernet},
	layers.LinkTypeNull:      {"Null", layers.LayerTypeLoopback, layers.LayerTypeLoopback},
	layers.LinkTypeLoop:      {"Loop", layers.LayerTypeLoopback, layers.LayerTypeLoopback},
	layers.LinkTypeLinuxSLL:  {"Linux SLL", layers.LayerTypeLinuxSLL, layers.LayerTypeLinuxSLL},
	layers.LinkTypeLinuxSLL2: {"Linux SLL2", layers.LayerTypeLinuxSLL2, layers.LayerTypeLinuxSLL2},
	layers.LinkTypeRaw:       {"Raw", decodeRawIP, gopacket.LayerTypeZero},
	12:                       {"Raw", decodeRawIP, gopacket.LayerTypeZero},
	14:                       {"Raw", decodeRawIP, gopacket.LayerTypeZero},
	layers.LinkTypeIPv4:      {"IPv4", layers.LayerTypeIPv4, layers.LayerTypeIPv4},
	layers.LinkTypeIPv6:      {"IPv6", layers.LayerTypeIPv6, layers.LayerTypeIPv6},
}

// Supported lists the supported link types for error messages.
const Supported = "Ethernet (1), Null (0), Loop (108), Linux SLL (113), Linux SLL2 (276), Raw (101), IPv4 (228), IPv6 (229)"

// Lookup returns the Info of lt and whether lt is supported.
func Lookup(lt layers.LinkType) (Info, bool) {
	li, ok := types[lt]
	return li, ok
}

// Name returns the name of lt, or "unsupported(N)".
func Name(lt layers.LinkType) string {
	if li, ok := types[lt]; ok {
		return li.Name
	}
	return fmt.Sprintf("unsupported(%d)", uint32(lt))
}

// UDP is the UDP datagram found in a frame.
type UDP struct {
	OK       bool           // false: the frame holds no UDP datagram (the rest is zero)
	Src, Dst netip.AddrPort // unmapped addresses
	Payload  []byte         // the captured payload, aliasing the frame (capacity = length)
	// Length is the payload length on the wire, from the UDP length field (at least len(Payload)); when the
	// capture cut that field off, from the IP header's length.
	Length int
	// Fragment4 is set, and OK false, when the frame holds a fragment of an IPv4 packet carrying UDP: a
	// copy of its IPv4 layer for a defragmenter (FromIP makes the datagram of the reassembled packet).
	Fragment4 *layers.IPv4
	// Fragment6 is set, and OK false, when the frame holds a fragment of an IPv6 packet carrying UDP:
	// copies of its IPv6 layer and fragment header for a defragmenter.
	Fragment6 *Fragment6
}

// Fragment6 is an IPv6 fragment of a UDP packet, copied out of its frame: what gopacket's ip6defrag
// takes.
type Fragment6 struct {
	IP     *layers.IPv6         // the packet's addresses and header fields
	Header *layers.IPv6Fragment // offset, more-fragments flag, identification; its payload is the fragment's data
}

// FromIP finds the UDP datagram in a whole IPv4 or IPv6 packet, such as a reassembled one; its payload
// aliases the packet's.
func FromIP(ipl gopacket.Layer) UDP {
	var (
		udp   layers.UDP
		proto layers.IPProtocol
	)
	switch ip := ipl.(type) {
	case *layers.IPv4:
		proto = ip.Protocol
	case *layers.IPv6:
		proto = ip.NextHeader
	}
	if proto != layers.IPProtocolUDP || udp.DecodeFromBytes(ipl.LayerPayload(), gopacket.NilDecodeFeedback) != nil {
		return UDP{}
	}
	return udpOf(ipl, &udp)
}

// fragment is the UDP result of a frame whose IPv4 layer ip is a fragment of a UDP packet, else false.
func fragment(ip *layers.IPv4) (UDP, bool) {
	if ip.Protocol != layers.IPProtocolUDP || ip.Flags&layers.IPv4MoreFragments == 0 && ip.FragOffset == 0 {
		return UDP{}, false
	}
	c := *ip
	c.Contents, c.Payload = bytes.Clone(ip.Contents), bytes.Clone(ip.Payload)
	c.SrcIP, c.DstIP, c.Options = bytes.Clone(ip.SrcIP), bytes.Clone(ip.DstIP), nil
	return UDP{Fragment4: &c}, true
}

// fragment6 is the UDP result of a frame whose IPv6 packet ip has the fragment header fh, when it is a
// fragment of a UDP packet (with no Fragment6 when the capture cut it short), else false. An "atomic"
// fragment (offset 0, no more fragments: RFC 6946) is a whole packet, whose UDP layer follows the
// header.
func fragment6(ip *layers.IPv6, fh *layers.IPv6Fragment) (UDP, bool) {
	if fh.NextHeader != layers.IPProtocolUDP || fh.FragmentOffset == 0 && !fh.MoreFragments {
		return UDP{}, false
	}
	hopByHop := 0
	if ip.HopByHop != nil {
		hopByHop = ip.HopByHop.ActualLength
	}
	if hopByHop+len(ip.Payload) < int(ip.Length) { // cut by the snap length: no place for it in a whole datagram
		return UDP{}, true
	}
	c := &layers.IPv6{Version: 6, TrafficClass: ip.TrafficClass, FlowLabel: ip.FlowLabel, NextHeader: ip.NextHeader,
		HopLimit: ip.HopLimit, SrcIP: bytes.Clone(ip.SrcIP), DstIP: bytes.Clone(ip.DstIP)}
	h := &layers.IPv6Fragment{NextHeader: fh.NextHeader, FragmentOffset: fh.FragmentOffset,
		MoreFragments: fh.MoreFragments, Identification: fh.Identification}
	h.Payload = bytes.Clone(fh.Payload)
	return UDP{Fragment6: &Fragment6{IP: c, Header: h}}, true
}

// Truncated reports whether the capture holds less payload than was sent.
func (u UDP) Truncated() bool { return len(u.Payload) < u.Length }

// DecodeFull finds the first UDP datagram of a frame of link type li with
// gopacket's full decoder (slow path, see Parser).
func DecodeFull(frame []byte, li Info) UDP {
	pkt := gopacket.NewPacket(frame, li.decoder, gopacket.DecodeOptions{NoCopy: true})
	var net gopacket.Layer
	for _, l := range pkt.Layers() {
		switch l.LayerType() {
		case layers.LayerTypeIPv4:
			if u, ok := fragment(l.(*layers.IPv4)); ok {
				return u
			}
			net = l
		case layers.LayerTypeIPv6:
			net = l
		case layers.LayerTypeIPv6Fragment:
			ip, ok := net.(*layers.IPv6)
			if !ok {
				return UDP{}
			}
			fh := l.(*layers.IPv6Fragment)
			if u, ok := fragment6(ip, fh); ok {
				return u
			}
			// An atomic fragment's payload is a whole UDP datagram, which gopacket's packet decoder leaves
			// undecoded (its DecodingLayer, which the Parser uses, decodes it).
			var udp layers.UDP
			if fh.NextHeader == layers.IPProtocolUDP && udp.DecodeFromBytes(fh.Payload, gopacket.NilDecodeFeedback) == nil {
				return udpOf(ip, &udp)
			}
		case layers.LayerTypeUDP:
			if net == nil {
				return UDP{}
			}
			if udp := l.(*layers.UDP); len(udp.Contents) == 8 {
				return udpOf(net, udp)
			}
			return cutHeader(net)
		}
	}
	return UDP{}
}

// udpOf builds the UDP result of udp carried in the IP layer ipl.
func udpOf(ipl gopacket.Layer, udp *layers.UDP) UDP {
	src, dst, ok := ipAddrs(ipl)
	if !ok {
		return UDP{}
	}
	payload := udp.Payload[:len(udp.Payload):len(udp.Payload)]
	n := len(payload)
	if udp.Length >= 8 && int(udp.Length)-8 > n {
		n = int(udp.Length) - 8
	}
	return UDP{
		OK:      true,
		Src:     netip.AddrPortFrom(src, uint16(udp.SrcPort)),
		Dst:     netip.AddrPortFrom(dst, uint16(udp.DstPort)),
		Payload: payload,
		Length:  n,
	}
}

// ipAddrs returns the unmapped source and destination addresses of the IP layer ipl; ok is false for
// another layer, or an address of the wrong length.
func ipAddrs(ipl gopacket.Layer) (src, dst netip.Addr, ok bool) {
	var ok1, ok2 bool
	switch ip := ipl.(type) {
	case *layers.IPv4:
		src, ok1 = netip.AddrFromSlice(ip.SrcIP.To4())
		dst, ok2 = netip.AddrFromSlice(ip.DstIP.To4())
	case *layers.IPv6:
		src, ok1 = netip.AddrFromSlice(ip.SrcIP.To16())
		dst, ok2 = netip.AddrFromSlice(ip.DstIP.To16())
	}
	return src.Unmap(), dst.Unmap(), ok1 && ok2
}

// Parser decodes frames of one link type into reused gopacket layers (a
// DecodingLayerParser: no allocation per frame). A frame it cannot follow to
// a UDP layer (IPv6 extension headers other than hop-by-hop and fragment,
// tunnels, non-UDP) goes through DecodeFull. Not safe for concurrent use.
type Parser struct {
	info    Info
	parsers map[gopacket.LayerType]*gopacket.DecodingLayerParser
	decoded []gopacket.LayerType

	eth   layers.Ethernet
	dot1q layers.Dot1Q
	lo    layers.Loopback
	sll   layers.LinuxSLL
	sll2  layers.LinuxSLL2
	ip4   layers.IPv4
	ip6   layers.IPv6
	frag6 layers.IPv6Fragment
	udp   layers.UDP
}

// NewParser returns a Parser for frames of link type info.
func NewParser(info Info) *Parser {
	return &Parser{info: info, parsers: map[gopacket.LayerType]*gopacket.DecodingLayerParser{}}
}

// parser returns the DecodingLayerParser starting at layer first.
func (p *Parser) parser(first gopacket.LayerType) *gopacket.DecodingLayerParser {
	if dlp, ok := p.parsers[first]; ok {
		return dlp
	}
	dlp := gopacket.NewDecodingLayerParser(first, &p.eth, &p.dot1q, &p.lo, &p.sll, &p.sll2, &p.ip4, &p.ip6, &p.frag6, &p.udp)
	dlp.IgnoreUnsupported = true
	p.parsers[first] = dlp
	return dlp
}

// Decode finds the first UDP datagram of frame; its payload aliases frame.
func (p *Parser) Decode(frame []byte) UDP {
	if p.info.first == layers.LayerTypeEthernet {
		if u, ok := fastEthernetIPv4UDP(frame); ok {
			return u
		}
	}
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
			if u, ok := fragment(&p.ip4); ok {
				return u
			}
			ipl = &p.ip4
		case layers.LayerTypeIPv6:
			ipl = &p.ip6
		case layers.LayerTypeIPv6Fragment:
			if u, ok := fragment6(&p.ip6, &p.frag6); ok {
				return u
			}
		case layers.LayerTypeUDP:
			if ipl != nil {
				return udpOf(ipl, &p.udp)
			}
		}
	}
	if u := cutHeader(ipl); u.OK {
		return u
	}
	return DecodeFull(frame, p.info)
}

// cutHeader is the datagram of the IP packet ipl (nil: none) when the capture's snap length cut its
// UDP header short (gopacket decodes no UDP layer, or an empty one, from under 8 bytes). With at least
// the 4 bytes of the ports it is a datagram with no payload captured, its wire length taken from the
// UDP length field when captured, else from the IP header; otherwise OK is false. (Fragments never
// come here: fragment and fragment6 took them first.)
func cutHeader(ipl gopacket.Layer) UDP {
	var (
		hdr    []byte
		ipRest int // the IP packet's length on the wire after its header
	)
	switch ip := ipl.(type) {
	case *layers.IPv4:
		if ip.Protocol != layers.IPProtocolUDP {
			return UDP{}
		}
		hdr, ipRest = ip.Payload, int(ip.Length)-int(ip.IHL)*4
	case *layers.IPv6:
		if ip.NextHeader != layers.IPProtocolUDP {
			return UDP{}
		}
		hdr, ipRest = ip.Payload, int(ip.Length)
	default:
		return UDP{}
	}
	src, dst, ok := ipAddrs(ipl)
	if len(hdr) < 4 || len(hdr) >= 8 || !ok {
		return UDP{}
	}
	n := ipRest - 8
	if len(hdr) >= 6 {
		n = int(binary.BigEndian.Uint16(hdr[4:])) - 8
	}
	return UDP{
		OK:      true,
		Src:     netip.AddrPortFrom(src, binary.BigEndian.Uint16(hdr[0:])),
		Dst:     netip.AddrPortFrom(dst, binary.BigEndian.Uint16(hdr[2:])),
		Payload: hdr[len(hdr):len(hdr):len(hdr)],
		Length:  max(n, 0),
	}
}

// fastEthernetIPv4UDP decodes the common case of a complete, unfragmented
// Ethernet/IPv4/UDP frame without gopacket (about ten times faster); ok is
// false for anything else (VLAN tags, IPv6, fragments, truncated or
// inconsistent lengths), which Decode leaves to gopacket. Its results equal
// gopacket's (TestParserMatchesFullDecoder).
func fastEthernetIPv4UDP(f []byte) (UDP, bool) {
	const eth = 14
	if len(f) < eth+20+8 || f[12] != 0x08 || f[13] != 0x00 {
		return UDP{}, false
	}
	ip := f[eth:]
	ihl := int(ip[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(ip[2:]))
	if ip[0]>>4 != 4 || ihl < 20 || total < ihl+8 || total > len(ip) ||
		ip[9] != byte(layers.IPProtocolUDP) || binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 { // MF flag or fragment offset
		return UDP{}, false
	}
	udp := ip[ihl:total]
	ulen := int(binary.BigEndian.Uint16(udp[4:]))
	if ulen < 8 || ulen > len(udp) {
		return UDP{}, false
	}
	payload := udp[8:ulen:ulen]
	return UDP{
		OK:      true,
		Src:     netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[12:16])), binary.BigEndian.Uint16(udp[0:])),
		Dst:     netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[16:20])), binary.BigEndian.Uint16(udp[2:])),
		Payload: payload,
		Length:  ulen - 8,
	}, true
}
