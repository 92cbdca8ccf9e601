package capture

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// linkTypeIPv4 and linkTypeIPv6 are LINKTYPE_IPV4 (228) and LINKTYPE_IPV6 (229).
const (
	linkTypeIPv4 = layers.LinkTypeIPv4
	linkTypeIPv6 = layers.LinkTypeIPv6
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

// linkInfo is how a supported link type is named and decoded.
type linkInfo struct {
	name    string
	decoder gopacket.Decoder   // for gopacket.NewPacket
	first   gopacket.LayerType // first layer for a DecodingLayerParser; LayerTypeZero: IPv4 or IPv6 by version
}

// linkTypes are the link types the reader decodes. LINKTYPE_RAW also appears
// as DLT 12 or 14 on some systems.
var linkTypes = map[layers.LinkType]linkInfo{
	layers.LinkTypeEthernet:  {"Ethernet", layers.LayerTypeEthernet, layers.LayerTypeEthernet},
	layers.LinkTypeNull:      {"Null", layers.LayerTypeLoopback, layers.LayerTypeLoopback},
	layers.LinkTypeLoop:      {"Loop", layers.LayerTypeLoopback, layers.LayerTypeLoopback},
	layers.LinkTypeLinuxSLL:  {"Linux SLL", layers.LayerTypeLinuxSLL, layers.LayerTypeLinuxSLL},
	layers.LinkTypeLinuxSLL2: {"Linux SLL2", layers.LayerTypeLinuxSLL2, layers.LayerTypeLinuxSLL2},
	layers.LinkTypeRaw:       {"Raw", decodeRawIP, gopacket.LayerTypeZero},
	12:                       {"Raw", decodeRawIP, gopacket.LayerTypeZero},
	14:                       {"Raw", decodeRawIP, gopacket.LayerTypeZero},
	linkTypeIPv4:             {"IPv4", layers.LayerTypeIPv4, layers.LayerTypeIPv4},
	linkTypeIPv6:             {"IPv6", layers.LayerTypeIPv6, layers.LayerTypeIPv6},
}

// supportedLinkTypes lists linkTypes for error messages.
const supportedLinkTypes = "Ethernet (1), Null (0), Loop (108), Linux SLL (113), Linux SLL2 (276), Raw (101), IPv4 (228), IPv6 (229)"

// linkTypeName returns the name File.LinkType uses for lt.
func linkTypeName(lt layers.LinkType) string {
	if li, ok := linkTypes[lt]; ok {
		return li.name
	}
	return fmt.Sprintf("unsupported(%d)", uint32(lt))
}

// decoded is the result of decoding one captured frame.
type decoded struct {
	dg        Datagram
	udp       bool // false: not a UDP packet (skipped)
	truncated bool // the capture holds less payload than the UDP length says
}

// decodeFrame extracts the first UDP datagram of a frame of link type li with
// gopacket's full decoder (slow path, see udpParser). The payload aliases data.
func decodeFrame(data []byte, li linkInfo, ts time.Time) decoded {
	pkt := gopacket.NewPacket(data, li.decoder, gopacket.DecodeOptions{NoCopy: true})
	var net gopacket.Layer
	for _, l := range pkt.Layers() {
		switch l.LayerType() {
		case layers.LayerTypeIPv4, layers.LayerTypeIPv6:
			net = l
		case layers.LayerTypeUDP:
			if net == nil {
				return decoded{}
			}
			return udpDatagram(net, l.(*layers.UDP), ts)
		}
	}
	return decoded{}
}

// udpDatagram builds the Datagram of udp carried in the IP layer ipl.
func udpDatagram(ipl gopacket.Layer, udp *layers.UDP, ts time.Time) decoded {
	var src, dst netip.Addr
	var ok1, ok2 bool
	switch ip := ipl.(type) {
	case *layers.IPv4:
		src, ok1 = netip.AddrFromSlice(ip.SrcIP.To4())
		dst, ok2 = netip.AddrFromSlice(ip.DstIP.To4())
	case *layers.IPv6:
		src, ok1 = netip.AddrFromSlice(ip.SrcIP.To16())
		dst, ok2 = netip.AddrFromSlice(ip.DstIP.To16())
	}
	if !ok1 || !ok2 {
		return decoded{}
	}
	payload := udp.Payload[:len(udp.Payload):len(udp.Payload)]
	return decoded{
		dg: Datagram{
			Time:    ts,
			Src:     netip.AddrPortFrom(src, uint16(udp.SrcPort)),
			Dst:     netip.AddrPortFrom(dst, uint16(udp.DstPort)),
			Payload: payload,
		},
		udp:       true,
		truncated: udp.Length >= 8 && int(udp.Length)-8 > len(payload),
	}
}
