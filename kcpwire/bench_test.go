package kcpwire

import (
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// benchPlain is a typical datagram: an ACK and a 100-byte PUSH.
func benchPlain() []byte {
	return plainBytes(seg(CmdAck, 6, 7, ""), seg(CmdPush, 7, 7, string(make([]byte, 100))))
}

// BenchmarkDecode measures Datagram.Decode per datagram (ns/op = ns per
// datagram) for each framing, auto detection over a mix of kinds (the
// parity shard and the ciphertext are "not KCP" without a flow or port), and the
// full Ethernet/IPv4/UDP/KCP DecodingLayerParser path.
func BenchmarkDecode(b *testing.B) {
	plain := benchPlain()
	fec := fecBytes(12, ShardData, plain)
	cases := []struct {
		name    string
		framing Framing
		in      [][]byte
	}{
		{"plain", FramingPlain, [][]byte{plain}},
		{"fec", FramingFEC, [][]byte{fec}},
		{"auto", FramingAuto, [][]byte{plain, fec, parityBytes(13, len(fec)), noise(len(fec) + 20)}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.in[0])))
			d := Datagram{Segments: make([]Segment, 0, 4)}
			i := 0
			for b.Loop() {
				in := c.in[i%len(c.in)]
				if f := d.decode(in, len(in), c.framing); !f.ok() && f.kind != faultNotKCP {
					b.Fatal(f.err())
				}
				i++
			}
		})
	}
	b.Run("parser", func(b *testing.B) {
		data := udpPacket(b, 40000, testPort, gopacket.Payload(plain))
		var (
			eth layers.Ethernet
			ip  layers.IPv4
			udp layers.UDP
			k   KCP
		)
		parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip, &udp, &k)
		decoded := make([]gopacket.LayerType, 0, 8)
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if err := parser.DecodeLayers(data, &decoded); err != nil || len(k.Segments) != 2 {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGuess measures Guess on a plain datagram and on ciphertext.
func BenchmarkGuess(b *testing.B) {
	for name, in := range map[string][]byte{"plain": benchPlain(), "encrypted": noise(168)} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Guess(in)
			}
		})
	}
}
