package pcapfile

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/internal/linklayer"
)

// vlanFrame wraps an IPv4 packet in Ethernet with an 802.1Q tag.
func vlanFrame(ip []byte) []byte {
	h := make([]byte, 18)
	binary.BigEndian.PutUint16(h[12:], uint16(layers.EthernetTypeDot1Q))
	binary.BigEndian.PutUint16(h[14:], 42)
	binary.BigEndian.PutUint16(h[16:], etherType(ip))
	return append(h, ip...)
}

// ipv6HopByHopUDP is an IPv6 packet whose UDP header follows a hop-by-hop
// extension header (which the fast parser leaves to the full decoder).
func ipv6HopByHopUDP(tb testing.TB, d Datagram) []byte {
	tb.Helper()
	src, dst := d.Src.Addr().As16(), d.Dst.Addr().As16()
	ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolIPv6HopByHop, SrcIP: src[:], DstIP: dst[:],
		HopByHop: &layers.IPv6HopByHop{}}
	ip6.HopByHop.NextHeader = layers.IPProtocolUDP
	ip6.HopByHop.Options = []*layers.IPv6HopByHopOption{{OptionType: 1, OptionLength: 4, OptionData: make([]byte, 4)}}
	udp := &layers.UDP{SrcPort: layers.UDPPort(d.Src.Port()), DstPort: layers.UDPPort(d.Dst.Port())}
	require.NoError(tb, udp.SetNetworkLayerForChecksum(ip6))
	buf := gopacket.NewSerializeBuffer()
	require.NoError(tb, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		ip6, udp, gopacket.Payload(d.Payload)))
	return bytes.Clone(buf.Bytes())
}

// decodeBoth decodes frame of link type lt with the Parser and with gopacket's full decoder, checks
// that they agree, and returns the Parser's result.
func decodeBoth(t *testing.T, lt layers.LinkType, frame []byte) linklayer.UDP {
	t.Helper()
	li, ok := linklayer.Lookup(lt)
	require.True(t, ok)
	fast := linklayer.NewParser(li).Decode(frame)
	assert.Equal(t, linklayer.DecodeFull(frame, li), fast, "the Parser and the full decoder")
	return fast
}

func TestParserMatchesFullDecoder(t *testing.T) {
	t.Parallel()
	v4, v6 := sampleDatagrams()[0], sampleDatagrams()[3]
	eth4 := frameEthernet(ipUDP(t, v4))
	fragment := bytes.Clone(eth4)
	fragment[14+6] |= 0x20 // more fragments
	withOptions := append(append(bytes.Clone(eth4[:34]), 1, 1, 1, 1), eth4[34:]...)
	withOptions[14] = 0x46
	binary.BigEndian.PutUint16(withOptions[14+2:], binary.BigEndian.Uint16(eth4[14+2:])+4)
	shortUDP := bytes.Clone(eth4)
	binary.BigEndian.PutUint16(shortUDP[14+20+4:], 8+1)
	frag6 := fragments6(ipUDP(t, v6), 8, 7) // "over IPv6": the UDP header, then 8 bytes, then 1
	atomic6 := fragments6(ipUDP(t, v6), 64, 7)[0]
	// frag6[1] behind a hop-by-hop header (next: fragment; one PadN option), which the Parser decodes too
	hbhFrag6 := append(append(bytes.Clone(frag6[1][:40]), byte(layers.IPProtocolIPv6Fragment), 0, 1, 4, 0, 0, 0, 0), frag6[1][40:]...)
	hbhFrag6[6] = byte(layers.IPProtocolIPv6HopByHop)
	binary.BigEndian.PutUint16(hbhFrag6[4:], uint16(len(hbhFrag6)-40))
	tests := []struct {
		name    string
		lt      layers.LinkType
		frame   []byte
		udp     bool
		payload []byte
		frag    bool // a fragment for the defragmenter
	}{
		{"ethernet v4", layers.LinkTypeEthernet, frameEthernet(ipUDP(t, v4)), true, v4.Payload, false},
		{"ethernet v6", layers.LinkTypeEthernet, frameEthernet(ipUDP(t, v6)), true, v6.Payload, false},
		{"ethernet padded to 60", layers.LinkTypeEthernet, append(frameEthernet(ipUDP(t, Datagram{Src: v4.Src, Dst: v4.Dst, Payload: []byte("x")})), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), true, []byte("x"), false},
		{"vlan", layers.LinkTypeEthernet, vlanFrame(ipUDP(t, v4)), true, v4.Payload, false},
		{"v4 fragment", layers.LinkTypeEthernet, fragment, false, nil, true},
		{"v6 first fragment", layers.LinkTypeRaw, frag6[0], false, nil, true},
		{"v6 last fragment", layers.LinkTypeEthernet, frameEthernet(frag6[2]), false, nil, true},
		{"v6 fragment behind hop-by-hop", layers.LinkTypeRaw, hbhFrag6, false, nil, true},
		{"v6 fragment cut by the snap length", layers.LinkTypeRaw, frag6[1][:len(frag6[1])-1], false, nil, false},
		{"v6 atomic fragment: a whole packet", layers.LinkTypeRaw, atomic6, true, v6.Payload, false},
		{"v4 with options", layers.LinkTypeEthernet, withOptions, true, v4.Payload, false},
		{"v4 cut by the snap length", layers.LinkTypeEthernet, eth4[:len(eth4)-3], true, v4.Payload[:len(v4.Payload)-3], false},
		{"udp length shorter than the ip payload", layers.LinkTypeEthernet, shortUDP, true, v4.Payload[:1], false},
		{"v6 hop-by-hop (full decoder)", layers.LinkTypeRaw, ipv6HopByHopUDP(t, v6), true, v6.Payload, false},
		{"raw v6", layers.LinkTypeRaw, ipUDP(t, v6), true, v6.Payload, false},
		{"null v6", layers.LinkTypeNull, frameNull(30)(ipUDP(t, v6)), true, v6.Payload, false},
		{"tcp", layers.LinkTypeEthernet, frameEthernet(ipTCP(t)), false, nil, false},
		{"empty", layers.LinkTypeRaw, nil, false, nil, false},
		{"garbage", layers.LinkTypeLinuxSLL2, []byte{1, 2, 3}, false, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fast := decodeBoth(t, tt.lt, tt.frame)
			require.Equal(t, tt.udp, fast.OK)
			assert.Equal(t, tt.frag, fast.Fragment4 != nil || fast.Fragment6 != nil, "a fragment")
			if tt.udp {
				assert.Equal(t, tt.payload, fast.Payload)
				assert.GreaterOrEqual(t, fast.Length, len(tt.payload))
			}
		})
	}
}

func TestParserCutUDPHeader(t *testing.T) {
	t.Parallel()
	v4, v6 := sampleDatagrams()[0], sampleDatagrams()[3]
	eth4, raw6 := frameEthernet(ipUDP(t, v4)), ipUDP(t, v6)
	const eth4UDP, raw6UDP = 14 + 20, 40 // where the UDP header starts
	later := bytes.Clone(eth4)
	binary.BigEndian.PutUint16(later[14+6:], 1) // fragment offset 8: no UDP header in this fragment
	tests := []struct {
		name  string
		lt    layers.LinkType
		frame []byte
		want  Datagram // its payload's length is the wire length; nothing of it is captured
		ok    bool
	}{
		{"v4 cut after the length field", layers.LinkTypeEthernet, eth4[:eth4UDP+6], v4, true},
		{"v4 cut after the ports: length from IP", layers.LinkTypeEthernet, eth4[:eth4UDP+4], v4, true},
		{"v4 cut inside the ports", layers.LinkTypeEthernet, eth4[:eth4UDP+3], Datagram{}, false},
		{"v4 later fragment", layers.LinkTypeEthernet, later[:eth4UDP+6], Datagram{}, false},
		{"raw v6 cut after the length field", layers.LinkTypeRaw, raw6[:raw6UDP+6], v6, true},
		{"raw v6 cut after the ports: length from IP", layers.LinkTypeRaw, raw6[:raw6UDP+5], v6, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fast := decodeBoth(t, tt.lt, tt.frame)
			require.Equal(t, tt.ok, fast.OK)
			if tt.ok {
				assert.Equal(t, tt.want.Src, fast.Src)
				assert.Equal(t, tt.want.Dst, fast.Dst)
				assert.Empty(t, fast.Payload)
				assert.Equal(t, len(tt.want.Payload), fast.Length)
				assert.True(t, fast.Truncated())
			}
		})
	}
}

func BenchmarkLinkLayer(b *testing.B) {
	frame := frameEthernet(ipUDP(b, sampleDatagrams()[4]))
	li, _ := linklayer.Lookup(layers.LinkTypeEthernet)
	b.Run("parser", func(b *testing.B) {
		p := linklayer.NewParser(li)
		for b.Loop() {
			if !p.Decode(frame).OK {
				b.Fatal("not UDP")
			}
		}
	})
	b.Run("gopacket", func(b *testing.B) {
		for b.Loop() {
			if !linklayer.DecodeFull(frame, li).OK {
				b.Fatal("not UDP")
			}
		}
	})
}
