package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/require"

	"kcplab/kcpwire"
)

// record is one packet record of a synthesised pcap.
type record struct {
	frame []byte // the whole frame as sent
	snap  int    // bytes kept in the file (0: all)
}

// ethUDP returns the Ethernet/IPv4-or-IPv6/UDP frame of payload from src to dst.
func ethUDP(tb testing.TB, src, dst netip.AddrPort, payload []byte) []byte {
	tb.Helper()
	eth := &layers.Ethernet{SrcMAC: make([]byte, 6), DstMAC: make([]byte, 6), EthernetType: layers.EthernetTypeIPv4}
	udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	var ip gopacket.SerializableLayer
	if src.Addr().Is4() {
		s, d := src.Addr().As4(), dst.Addr().As4()
		ip4 := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: s[:], DstIP: d[:]}
		require.NoError(tb, udp.SetNetworkLayerForChecksum(ip4))
		ip = ip4
	} else {
		s, d := src.Addr().As16(), dst.Addr().As16()
		ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: s[:], DstIP: d[:]}
		require.NoError(tb, udp.SetNetworkLayerForChecksum(ip6))
		eth.EthernetType = layers.EthernetTypeIPv6
		ip = ip6
	}
	buf := gopacket.NewSerializeBuffer()
	require.NoError(tb, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, udp, gopacket.Payload(payload)))
	return bytes.Clone(buf.Bytes())
}

// ethARP returns an Ethernet frame that is not IP (an ARP request).
func ethARP() []byte {
	f := make([]byte, 42)
	binary.BigEndian.PutUint16(f[12:], uint16(layers.EthernetTypeARP))
	copy(f[14:], []byte{0, 1, 8, 0, 6, 4, 0, 1})
	return f
}

// writePcap writes recs as an Ethernet pcap (nanosecond timestamps, 1 ms
// apart) and returns its path.
func writePcap(tb testing.TB, path string, recs []record) string {
	tb.Helper()
	return writePcapOf(tb, path, len(recs), time.Millisecond, func(i int) record { return recs[i] })
}

// cutCopy writes the capture at path, less its last 10 bytes (inside its last record), beside it as
// cut.EXT, and returns the copy's path.
func cutCopy(tb testing.TB, path string) string {
	tb.Helper()
	data, err := os.ReadFile(path)
	require.NoError(tb, err)
	cut := filepath.Join(filepath.Dir(path), "cut"+filepath.Ext(path))
	require.NoError(tb, os.WriteFile(cut, data[:len(data)-10], 0o644))
	return cut
}

// writePcapOf writes n records as an Ethernet pcap, record i from rec(i)
// (whose frame may be reused once written), with nanosecond timestamps gap
// apart, and returns its path.
func writePcapOf(tb testing.TB, path string, n int, gap time.Duration, rec func(i int) record) string {
	tb.Helper()
	f, err := os.Create(path)
	require.NoError(tb, err)
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	w := pcapgo.NewWriterNanos(bw)
	require.NoError(tb, w.WriteFileHeader(65535, layers.LinkTypeEthernet))
	t0 := time.Unix(1700000000, 0)
	for i := range n {
		r := rec(i)
		data := r.frame
		if r.snap > 0 && r.snap < len(data) {
			data = data[:r.snap]
		}
		ci := gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(i) * gap), CaptureLength: len(data), Length: len(r.frame)}
		require.NoError(tb, w.WritePacket(ci, data))
	}
	require.NoError(tb, bw.Flush())
	return path
}

// benchCapture writes the benchmark capture: n Ethernet/IPv4/UDP datagrams on
// 127.0.0.1, alternately a 1,376-byte PUSH (client to server) and its ACK
// (server to client), plain framing, as kcp-go sends a bulk transfer.
func benchCapture(tb testing.TB, path string, n int) string {
	tb.Helper()
	c, s := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:8080")
	push := kcpwire.Segment{Conv: 0x1a2b3c4d, Cmd: kcpwire.CmdPush, Wnd: 32, Data: bytes.Repeat([]byte{0x5a}, 1376)}
	ack := kcpwire.Segment{Conv: 0x1a2b3c4d, Cmd: kcpwire.CmdAck, Wnd: 32}
	pushFrame := ethUDP(tb, c, s, push.AppendTo(nil))
	ackFrame := ethUDP(tb, s, c, ack.AppendTo(nil))
	const kcpOff = 14 + 20 + 8
	return writePcapOf(tb, path, n, 50*time.Microsecond, func(i int) record {
		sn := uint32(i / 2)
		frame := pushFrame
		if i%2 == 1 {
			frame = ackFrame
			binary.LittleEndian.PutUint32(frame[kcpOff+16:], sn+1) // una
		}
		binary.LittleEndian.PutUint32(frame[kcpOff+8:], sn*10) // ts
		binary.LittleEndian.PutUint32(frame[kcpOff+12:], sn)   // sn
		return record{frame: frame}
	})
}
