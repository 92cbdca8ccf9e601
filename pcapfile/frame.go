package pcapfile

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"kcplab/capture"
)

// maxUDPPayload4 and maxUDPPayload6 are the largest UDP payloads that fit in
// one IPv4 packet (65535 - 20 - 8) and one non-jumbo IPv6 packet (65535 - 8).
const (
	maxUDPPayload4 = 65507
	maxUDPPayload6 = 65527
)

// zeroMAC is the all-zero hardware address Linux uses on lo.
var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// frameBuilder synthesises Ethernet/IP/UDP frames; it reuses its buffer, so
// each frame is valid only until the next call.
type frameBuilder struct {
	buf  gopacket.SerializeBuffer
	opts gopacket.SerializeOptions
	ipID uint16
}

func newFrameBuilder() *frameBuilder {
	return &frameBuilder{
		buf:  gopacket.NewSerializeBuffer(),
		opts: gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
	}
}

// frame returns the Ethernet frame carrying d with valid IP and UDP checksums
// and no padding.
func (fb *frameBuilder) frame(d capture.Datagram) ([]byte, error) {
	src, dst := d.Src.Addr().Unmap(), d.Dst.Addr().Unmap()
	if !src.IsValid() || !dst.IsValid() {
		return nil, fmt.Errorf("invalid address (src %v, dst %v)", d.Src, d.Dst)
	}
	if src.Is4() != dst.Is4() {
		return nil, fmt.Errorf("mixed address families (src %v, dst %v)", d.Src, d.Dst)
	}
	eth := &layers.Ethernet{SrcMAC: zeroMAC, DstMAC: zeroMAC}
	udp := &layers.UDP{SrcPort: layers.UDPPort(d.Src.Port()), DstPort: layers.UDPPort(d.Dst.Port())}
	var ip gopacket.SerializableLayer
	if src.Is4() {
		if len(d.Payload) > maxUDPPayload4 {
			return nil, fmt.Errorf("payload of %d bytes exceeds the IPv4 UDP maximum %d", len(d.Payload), maxUDPPayload4)
		}
		fb.ipID++
		s4, d4 := src.As4(), dst.As4()
		ip4 := &layers.IPv4{
			Version: 4, IHL: 5, TTL: 64, Id: fb.ipID, Flags: layers.IPv4DontFragment,
			Protocol: layers.IPProtocolUDP, SrcIP: s4[:], DstIP: d4[:],
		}
		eth.EthernetType = layers.EthernetTypeIPv4
		if err := udp.SetNetworkLayerForChecksum(ip4); err != nil {
			return nil, err
		}
		ip = ip4
	} else {
		if len(d.Payload) > maxUDPPayload6 {
			return nil, fmt.Errorf("payload of %d bytes exceeds the IPv6 UDP maximum %d", len(d.Payload), maxUDPPayload6)
		}
		s16, d16 := src.As16(), dst.As16()
		ip6 := &layers.IPv6{
			Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: s16[:], DstIP: d16[:],
		}
		eth.EthernetType = layers.EthernetTypeIPv6
		if err := udp.SetNetworkLayerForChecksum(ip6); err != nil {
			return nil, err
		}
		ip = ip6
	}
	if err := gopacket.SerializeLayers(fb.buf, fb.opts, eth, ip, udp, gopacket.Payload(d.Payload)); err != nil {
		return nil, err
	}
	// gopacket pads Ethernet frames to the 60-byte minimum; Linux lo does not.
	return fb.buf.Bytes()[:ethHeaderLen+ipHeaderLen(src)+udpHeaderLen+len(d.Payload)], nil
}

// Header lengths of the synthesised frames.
const (
	ethHeaderLen = 14
	udpHeaderLen = 8
)

// ipHeaderLen is the length of the IP header written for addr's family.
func ipHeaderLen(addr netip.Addr) int {
	if addr.Is4() {
		return 20
	}
	return 40
}
