package kcpwire

import (
	"encoding/binary"
	"fmt"
)

// HeaderLen is the length of a KCP segment header.
const HeaderLen = 24

// Offsets of the header fields inside a segment.
const (
	offCmd = 4
	offLen = 20
)

// Segment is one KCP segment: header fields and the data that follows.
type Segment struct {
	Conv uint32 // conversation id
	Cmd  Cmd    // command
	Frg  uint8  // fragment count down (0 = last fragment of a message)
	Wnd  uint16 // sender's free receive window, in segments
	Ts   uint32 // timestamp, ms on the sender's clock (ACK: echoes the acked segment's ts)
	Sn   uint32 // sequence number (ACK: the acked segment's sn)
	Una  uint32 // first sn the sender has not yet received
	Len  uint32 // data length as decoded; AppendTo writes len(Data) instead
	Data []byte // aliases the decoded buffer (nil when Len is 0; shorter than Len when the capture cut it)
}

// DecodeFromBytes decodes one segment at b[0:]; bytes after it are ignored.
// Errors are *DecodeError with offsets relative to b.
func (s *Segment) DecodeFromBytes(b []byte) error {
	return decodeSegment(s, b, 0).err()
}

// decodeSegment decodes one segment at b[0:] into s; base is the offset of
// b in the payload, used for fault offsets. On a fault s is unchanged.
func decodeSegment(s *Segment, b []byte, base int) fault {
	return decodeSegmentWire(s, b, base, len(b))
}

// decodeSegmentWire is decodeSegment for a segment whose bytes from b[0:]
// on had wire bytes on the wire (>= len(b)): len is checked against wire,
// and Data holds the captured part.
func decodeSegmentWire(s *Segment, b []byte, base, wire int) fault {
	if len(b) < HeaderLen {
		return fault{kind: faultHeader, off: base, a: uint64(len(b))}
	}
	cmd := Cmd(b[offCmd])
	if !cmd.Valid() {
		return fault{kind: faultCmd, off: base + offCmd, a: uint64(cmd)}
	}
	n := binary.LittleEndian.Uint32(b[offLen:])
	have := wire - HeaderLen
	if uint64(n) > uint64(have) {
		return fault{kind: faultLen, off: base + offLen, a: uint64(n), b: uint64(have)}
	}
	var data []byte
	if n > 0 {
		end := min(HeaderLen+int(n), len(b))
		data = b[HeaderLen:end:end]
	}
	*s = Segment{
		Conv: binary.LittleEndian.Uint32(b[0:]),
		Cmd:  cmd,
		Frg:  b[5],
		Wnd:  binary.LittleEndian.Uint16(b[6:]),
		Ts:   binary.LittleEndian.Uint32(b[8:]),
		Sn:   binary.LittleEndian.Uint32(b[12:]),
		Una:  binary.LittleEndian.Uint32(b[16:]),
		Len:  n,
		Data: data,
	}
	return fault{}
}

// AppendTo appends the encoded segment to b: the header, with Len written as
// len(s.Data), then Data.
func (s *Segment) AppendTo(b []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, s.Conv)
	b = append(b, byte(s.Cmd), s.Frg)
	b = binary.LittleEndian.AppendUint16(b, s.Wnd)
	b = binary.LittleEndian.AppendUint32(b, s.Ts)
	b = binary.LittleEndian.AppendUint32(b, s.Sn)
	b = binary.LittleEndian.AppendUint32(b, s.Una)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s.Data)))
	return append(b, s.Data...)
}

// EncodedLen is the number of bytes AppendTo writes.
func (s *Segment) EncodedLen() int { return HeaderLen + len(s.Data) }

// String returns e.g. "PUSH conv=0x1a2b3c4d sn=0 una=0 frg=0 wnd=32 ts=0 len=9"
// (conv in hex, len is the Len field).
func (s *Segment) String() string {
	return fmt.Sprintf("%s conv=0x%08x sn=%d una=%d frg=%d wnd=%d ts=%d len=%d",
		s.Cmd, s.Conv, s.Sn, s.Una, s.Frg, s.Wnd, s.Ts, s.Len)
}
