package pcapfile

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/require"

	"kcplab/capture"
)

// ipUDP serialises an IPv4 or IPv6 packet carrying d as UDP.
func ipUDP(tb testing.TB, d Datagram) []byte {
	tb.Helper()
	fb := newFrameBuilder()
	frame, err := fb.frame(d)
	require.NoError(tb, err)
	return bytes.Clone(frame[14:]) // strip the Ethernet header
}

// ipTCP serialises an IPv4 TCP segment, a packet the reader must skip.
func ipTCP(tb testing.TB) []byte {
	tb.Helper()
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP,
		SrcIP: []byte{127, 0, 0, 1}, DstIP: []byte{127, 0, 0, 1}}
	tcp := &layers.TCP{SrcPort: 1234, DstPort: 80, SYN: true, Window: 1024}
	require.NoError(tb, tcp.SetNetworkLayerForChecksum(ip))
	buf := gopacket.NewSerializeBuffer()
	require.NoError(tb, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, tcp))
	return bytes.Clone(buf.Bytes())
}

// isIPv6 reports the IP version of a raw IP packet.
func isIPv6(ip []byte) bool { return len(ip) > 0 && ip[0]>>4 == 6 }

// Link-layer framings of a raw IP packet, one per supported link type.
func frameEthernet(ip []byte) []byte {
	h := make([]byte, 14)
	binary.BigEndian.PutUint16(h[12:], uint16(layers.EthernetTypeIPv4))
	if isIPv6(ip) {
		binary.BigEndian.PutUint16(h[12:], uint16(layers.EthernetTypeIPv6))
	}
	return append(h, ip...)
}

// frameNull is BSD loopback: family in host (here little-endian) order.
func frameNull(family6 uint32) func([]byte) []byte {
	return func(ip []byte) []byte {
		h := make([]byte, 4)
		binary.LittleEndian.PutUint32(h, 2)
		if isIPv6(ip) {
			binary.LittleEndian.PutUint32(h, family6)
		}
		return append(h, ip...)
	}
}

// frameLoop is OpenBSD loopback: family in network order.
func frameLoop(ip []byte) []byte {
	h := make([]byte, 4)
	binary.BigEndian.PutUint32(h, 2)
	if isIPv6(ip) {
		binary.BigEndian.PutUint32(h, 24)
	}
	return append(h, ip...)
}

func etherType(ip []byte) uint16 {
	if isIPv6(ip) {
		return uint16(layers.EthernetTypeIPv6)
	}
	return uint16(layers.EthernetTypeIPv4)
}

// frameSLL is Linux cooked capture v1 (16-byte header).
func frameSLL(ip []byte) []byte {
	h := make([]byte, 16)
	binary.BigEndian.PutUint16(h[0:], 0)   // packet to us
	binary.BigEndian.PutUint16(h[2:], 772) // ARPHRD_LOOPBACK
	binary.BigEndian.PutUint16(h[4:], 6)   // address length
	binary.BigEndian.PutUint16(h[14:], etherType(ip))
	return append(h, ip...)
}

// frameSLL2 is Linux cooked capture v2 (20-byte header).
func frameSLL2(ip []byte) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], etherType(ip))
	binary.BigEndian.PutUint32(h[4:], 1)   // interface index
	binary.BigEndian.PutUint16(h[8:], 772) // ARPHRD_LOOPBACK
	h[10] = 0                              // packet to us
	h[11] = 6                              // address length
	return append(h, ip...)
}

// fragments splits the IPv4 packet ip (no options) into fragments of at most size bytes of payload
// (a multiple of 8), as a sender on a link with a smaller MTU does.
func fragments(ip []byte, size int) [][]byte {
	hdr, body := ip[:20], ip[20:]
	var out [][]byte
	for off := 0; off < len(body); off += size {
		end := min(off+size, len(body))
		f := append(bytes.Clone(hdr), body[off:end]...)
		binary.BigEndian.PutUint16(f[2:], uint16(len(f)))
		flags := uint16(off / 8)
		if end < len(body) {
			flags |= 0x2000 // more fragments
		}
		binary.BigEndian.PutUint16(f[6:], flags)
		binary.BigEndian.PutUint16(f[10:], 0)
		var sum uint32
		for i := 0; i < 20; i += 2 {
			sum += uint32(binary.BigEndian.Uint16(f[i:]))
		}
		for sum > 0xffff {
			sum = sum>>16 + sum&0xffff
		}
		binary.BigEndian.PutUint16(f[10:], ^uint16(sum))
		out = append(out, f)
	}
	return out
}

// fragments6 splits the IPv6 packet ip (no extension headers) into fragments of at most size bytes of
// its payload (a multiple of 8), each with a fragment header of identification id.
func fragments6(ip []byte, size int, id uint32) [][]byte {
	hdr, body := ip[:40], ip[40:]
	var out [][]byte
	for off := 0; off < len(body); off += size {
		end := min(off+size, len(body))
		fh := make([]byte, 8)
		fh[0] = hdr[6] // the fragmentable part's first header: UDP
		offsetFlags := uint16(off/8) << 3
		if end < len(body) {
			offsetFlags |= 1 // more fragments
		}
		binary.BigEndian.PutUint16(fh[2:], offsetFlags)
		binary.BigEndian.PutUint32(fh[4:], id)
		f := append(append(bytes.Clone(hdr), fh...), body[off:end]...)
		f[6] = byte(layers.IPProtocolIPv6Fragment)
		binary.BigEndian.PutUint16(f[4:], uint16(len(f)-40))
		out = append(out, f)
	}
	return out
}

func frameRaw(ip []byte) []byte { return bytes.Clone(ip) }

// pcapRecord is one record for the pcap builders.
type pcapRecord struct {
	ts    time.Time
	frame []byte
}

// pcapBytes writes a pcap file by hand in either byte order and resolution.
func pcapBytes(order binary.ByteOrder, nanos bool, lt layers.LinkType, recs []pcapRecord) []byte {
	var b bytes.Buffer
	h := make([]byte, 24)
	magic := uint32(magicPcapMicros)
	if nanos {
		magic = magicPcapNanos
	}
	order.PutUint32(h[0:], magic)
	order.PutUint16(h[4:], 2)
	order.PutUint16(h[6:], 4)
	order.PutUint32(h[16:], 65535)
	order.PutUint32(h[20:], uint32(lt))
	b.Write(h)
	for _, r := range recs {
		rh := make([]byte, 16)
		frac := uint32(r.ts.Nanosecond() / 1000)
		if nanos {
			frac = uint32(r.ts.Nanosecond())
		}
		order.PutUint32(rh[0:], uint32(r.ts.Unix()))
		order.PutUint32(rh[4:], frac)
		order.PutUint32(rh[8:], uint32(len(r.frame)))
		order.PutUint32(rh[12:], uint32(len(r.frame)))
		b.Write(rh)
		b.Write(r.frame)
	}
	return b.Bytes()
}

// pcapgoBytes writes a little-endian pcap file with pcapgo.Writer.
func pcapgoBytes(tb testing.TB, nanos bool, lt layers.LinkType, recs []pcapRecord) []byte {
	tb.Helper()
	var b bytes.Buffer
	w := pcapgo.NewWriter(&b)
	if nanos {
		w = pcapgo.NewWriterNanos(&b)
	}
	require.NoError(tb, w.WriteFileHeader(65535, lt))
	for _, r := range recs {
		ci := gopacket.CaptureInfo{Timestamp: r.ts, CaptureLength: len(r.frame), Length: len(r.frame)}
		require.NoError(tb, w.WritePacket(ci, r.frame))
	}
	return b.Bytes()
}

// pcapngBytes writes a pcapng file with one interface of link type lt and
// returns it with the byte offset of each record.
func pcapngBytes(tb testing.TB, lt layers.LinkType, recs []pcapRecord) ([]byte, []int) {
	tb.Helper()
	var b bytes.Buffer
	w, err := pcapgo.NewNgWriter(&b, lt)
	require.NoError(tb, err)
	require.NoError(tb, w.Flush())
	offsets := make([]int, len(recs))
	for i, r := range recs {
		offsets[i] = b.Len()
		ci := gopacket.CaptureInfo{Timestamp: r.ts, CaptureLength: len(r.frame), Length: len(r.frame)}
		require.NoError(tb, w.WritePacket(ci, r.frame))
		require.NoError(tb, w.Flush())
	}
	return b.Bytes(), offsets
}

// sampleDatagrams are a few IPv4 and IPv6 datagrams with distinct contents.
func sampleDatagrams() []Datagram {
	t0 := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	mk := func(i int, src, dst string, payload string) Datagram {
		return Datagram{
			Time:    t0.Add(time.Duration(i) * 1234567 * time.Nanosecond),
			Src:     netip.MustParseAddrPort(src),
			Dst:     netip.MustParseAddrPort(dst),
			Payload: []byte(payload),
		}
	}
	return []Datagram{
		mk(0, "127.0.0.1:40000", "127.0.0.1:8080", "request: 24+ bytes of KCP-ish payload"),
		mk(1, "127.0.0.1:8080", "127.0.0.1:40000", "ack"),
		mk(2, "127.0.0.2:5555", "127.0.0.3:6666", ""),
		mk(3, "[::1]:40001", "[::1]:8081", "over IPv6"),
		mk(4, "[::1]:8081", "[::1]:40001", string(bytes.Repeat([]byte{0xab}, 1400))),
	}
}

// gopacketCI is a CaptureInfo for a record.
func gopacketCI(ts time.Time, capLen, length int) gopacket.CaptureInfo {
	return gopacket.CaptureInfo{Timestamp: ts, CaptureLength: capLen, Length: length}
}

// captureInfo is the CaptureInfo of a whole frame on interface intf.
func captureInfo(ts time.Time, frame []byte, intf int) (gopacket.CaptureInfo, []byte) {
	return gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(frame), Length: len(frame), InterfaceIndex: intf}, frame
}

// Test shorthand for the capture type the files hold.
type Datagram = capture.Datagram
