package kcpwire

import (
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// udpPacket builds an Ethernet/IPv4/UDP packet around top (the UDP payload
// layer) with gopacket.SerializeLayers.
func udpPacket(t testing.TB, src, dst uint16, top gopacket.SerializableLayer) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{0, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{0, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(127, 0, 0, 1), DstIP: net.IPv4(127, 0, 0, 2)}
	udp := &layers.UDP{SrcPort: layers.UDPPort(src), DstPort: layers.UDPPort(dst)}
	require.NoError(t, udp.SetNetworkLayerForChecksum(ip))
	buf := gopacket.NewSerializeBuffer()
	require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, top))
	return buf.Bytes()
}

func TestNewPacketDecodesKCP(t *testing.T) {
	t.Parallel()
	plain := Datagram{Framing: FramingPlain, Segments: []Segment{seg(CmdAck, 0, 1, ""), seg(CmdPush, 0, 1, "hello")}}
	fec := Datagram{Framing: FramingFEC, FEC: FECHeader{SeqID: 3, Type: ShardData}, Segments: []Segment{seg(CmdPush, 2, 0, "x")}}
	tests := []struct {
		name        string
		src, dst    uint16
		top         gopacket.SerializableLayer
		want        Framing
		segs        int
		wantPayload []byte
	}{
		{"plain to registered port", 40000, testPort, &KCP{Datagram: plain}, FramingPlain, 2, nil},
		{"plain from registered port", testPort, 40000, &KCP{Datagram: plain}, FramingPlain, 2, nil},
		{"fec data", 40000, testPort, &KCP{Datagram: fec}, FramingFEC, 1, nil},
		{"fec parity", 40000, testPort, gopacket.Payload(parityBytes(4, 64)), FramingFEC, 0, parityBytes(4, 64)[FECHeaderLen:]},
		{"encrypted", 40000, testPort, gopacket.Payload(noise(90)), FramingEncrypted, 0, noise(90)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := udpPacket(t, tt.src, tt.dst, tt.top)
			pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
			require.Nil(t, pkt.ErrorLayer())
			l := pkt.Layer(LayerTypeKCP)
			require.NotNil(t, l, "layers: %v", pkt.Layers())
			k := l.(*KCP)
			assert.Equal(t, tt.want, k.Framing)
			assert.Len(t, k.Segments, tt.segs)
			assert.Equal(t, pkt.Layer(layers.LayerTypeUDP).LayerPayload(), append(append([]byte{}, k.LayerContents()...), k.LayerPayload()...))
			if tt.wantPayload == nil {
				assert.Nil(t, pkt.ApplicationLayer())
				assert.Equal(t, LayerTypeKCP, pkt.Layers()[len(pkt.Layers())-1].LayerType())
				return
			}
			app := pkt.ApplicationLayer()
			require.NotNil(t, app)
			assert.Equal(t, tt.wantPayload, app.Payload())
		})
	}
	assert.Equal(t, "KCP", LayerTypeKCP.String())
}

func TestNewPacketReportsDecodeError(t *testing.T) {
	t.Parallel()
	bad := plainBytes(seg(CmdPush, 0, 0, "hello"))[:20] // short: not KCP under auto
	pkt := gopacket.NewPacket(udpPacket(t, 40000, testPort, gopacket.Payload(bad)), layers.LayerTypeEthernet, gopacket.Default)
	el := pkt.ErrorLayer()
	require.NotNil(t, el)
	var de *DecodeError
	require.ErrorAs(t, el.Error(), &de)
	assert.Equal(t, "framing", de.Field)
	assert.Nil(t, pkt.Layer(LayerTypeKCP))
}

func TestKCPWantAndTruncation(t *testing.T) {
	t.Parallel()
	payload := plainBytes(seg(CmdPush, 0, 0, "0123456789"))
	tests := []struct {
		name      string
		want      Framing
		in        []byte
		framing   Framing
		field     string
		truncated bool
	}{
		{"auto", FramingAuto, payload, FramingPlain, "", false},
		{"forced encrypted", FramingEncrypted, payload, FramingEncrypted, "", false},
		{"forced fec on plain", FramingFEC, payload, FramingFEC, "fec type", false},
		{"truncated plain", FramingPlain, payload[:30], FramingPlain, "len", true},
		{"short plain", FramingPlain, payload[:10], FramingPlain, "header", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := KCP{Want: tt.want}
			var pb gopacket.DecodingLayerParser // any DecodeFeedback will do
			err := k.DecodeFromBytes(tt.in, &pb)
			assert.Equal(t, tt.framing, k.Framing)
			assert.Equal(t, tt.truncated, pb.Truncated)
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, tt.field, de.Field)
			assert.Equal(t, tt.in, k.LayerContents())
			assert.Empty(t, k.LayerPayload())
		})
	}
	var k KCP
	require.Error(t, k.DecodeFromBytes(nil, nil), "nil DecodeFeedback is fine")
}

// Not parallel: testing.AllocsPerRun refuses parallel tests.
func TestDecodingLayerParserNoAlloc(t *testing.T) {
	inputs := []struct {
		name    string
		top     gopacket.SerializableLayer
		want    Framing
		decoded []gopacket.LayerType
	}{
		{"plain", &KCP{Datagram: Datagram{Framing: FramingPlain, Segments: []Segment{seg(CmdAck, 0, 1, ""), seg(CmdPush, 0, 1, "hello")}}}, FramingAuto,
			[]gopacket.LayerType{layers.LayerTypeEthernet, layers.LayerTypeIPv4, layers.LayerTypeUDP, LayerTypeKCP}},
		{"fec data", &KCP{Datagram: Datagram{Framing: FramingFEC, FEC: FECHeader{SeqID: 1, Type: ShardData}, Segments: []Segment{seg(CmdPush, 0, 1, "hello")}}}, FramingAuto,
			[]gopacket.LayerType{layers.LayerTypeEthernet, layers.LayerTypeIPv4, layers.LayerTypeUDP, LayerTypeKCP}},
		{"encrypted", gopacket.Payload(noise(120)), FramingEncrypted,
			[]gopacket.LayerType{layers.LayerTypeEthernet, layers.LayerTypeIPv4, layers.LayerTypeUDP, LayerTypeKCP, gopacket.LayerTypePayload}},
	}
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			data := udpPacket(t, testPort, 40000, in.top)
			var (
				eth     layers.Ethernet
				ip      layers.IPv4
				udp     layers.UDP
				k       KCP
				payload gopacket.Payload
			)
			k.Want = in.want
			parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip, &udp, &k, &payload)
			decoded := make([]gopacket.LayerType, 0, 8)
			require.NoError(t, parser.DecodeLayers(data, &decoded))
			assert.Equal(t, in.decoded, decoded)
			allocs := testing.AllocsPerRun(200, func() {
				if err := parser.DecodeLayers(data, &decoded); err != nil {
					panic(err)
				}
			})
			assert.Zero(t, allocs)
		})
	}
}
