package kcpwire

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Datagram is the decoding of one UDP payload.
type Datagram struct {
	Framing  Framing   // framing actually decoded: never FramingAuto after a successful Decode
	FEC      FECHeader // valid when Framing == FramingFEC
	Segments []Segment // reused across Decode calls: no allocation once capacity suffices
	// Opaque holds the bytes that are not KCP segments, aliasing the payload:
	// the whole payload when encrypted, the bytes after the FEC header for
	// parity shards (the rest of the Reed-Solomon shard that starts with
	// FEC.Size) and for OOB shards (conv u32 LE, then the OOB data);
	// empty otherwise.
	Opaque []byte
	// WireLen is the payload's length on the wire; it exceeds the decoded
	// bytes only when the capture cut the datagram short (Truncated).
	WireLen int
	// Truncated says the capture holds only the first bytes of the payload
	// (DecodeCaptured): Segments holds every segment whose header was
	// captured, and the Data of the last one may be cut short.
	Truncated bool
}

// Decode decodes one complete UDP payload with framing f; FramingAuto decodes
// with the framing Guess returns, and fails with a "not KCP" *DecodeError
// when Guess returns FramingAuto (no evidence of KCP).
//
// A plain datagram or FEC data shard must hold at least one segment, and its
// segments must chain exactly to the end of the payload. A FEC data or OOB
// shard's size field must be 2 + the number of bytes after the header. An
// encrypted payload must be at least MinEncryptedLen bytes.
//
// Decode does not allocate once Segments has the capacity (errors allocate).
// Segment data and Opaque alias payload. After an error, Framing is the
// framing that was tried and Segments holds those decoded before the fault.
func (d *Datagram) Decode(payload []byte, f Framing) error {
	return d.decode(payload, len(payload), f).err()
}

// DecodeCaptured is Decode for a payload the capture may have cut short:
// captured is what the capture holds and wireLen the payload's length on the
// wire (from the UDP header; a smaller value means len(captured)). When
// wireLen > len(captured), d.Truncated is set, the lengths are checked
// against wireLen, and every segment whose 24-byte header was captured is
// decoded (the last one's Data may be shorter than its Len); FramingAuto
// needs the captured bytes to pass Guess's checks.
func (d *Datagram) DecodeCaptured(captured []byte, wireLen int, f Framing) error {
	return d.decode(captured, wireLen, f).err()
}

// decode is DecodeCaptured without allocating for the fault.
func (d *Datagram) decode(p []byte, wire int, f Framing) fault {
	d.FEC = FECHeader{}
	d.Opaque = nil
	d.Segments = d.Segments[:0]
	if wire < len(p) {
		wire = len(p)
	}
	d.WireLen, d.Truncated = wire, wire > len(p)
	if f == FramingAuto {
		f = guess(p, wire)
		if f == FramingAuto {
			d.Framing = FramingAuto
			return fault{kind: faultNotKCP, a: uint64(len(p))}
		}
	}
	d.Framing = f
	switch f {
	case FramingPlain:
		return d.decodeSegments(p, 0, wire)
	case FramingFEC:
		return d.decodeFEC(p, wire)
	case FramingEncrypted:
		if wire < MinEncryptedLen {
			return fault{kind: faultEncrypted, a: uint64(wire)}
		}
		d.Opaque = p
		return fault{}
	}
	return fault{kind: faultFraming, a: uint64(f)}
}

// decodeSegments decodes one or more segments filling b exactly (b's wire
// length is wire); base is the offset of b in the payload.
func (d *Datagram) decodeSegments(b []byte, base, wire int) fault {
	if wire == 0 {
		return fault{kind: faultHeader, off: base}
	}
	var f fault
	d.Segments, f = parseSegments(b, base, wire, d.Segments)
	return f
}

// decodeFEC decodes a FEC-framed payload (wire bytes on the wire).
func (d *Datagram) decodeFEC(p []byte, wire int) fault {
	if f := decodeFECHeader(&d.FEC, p); !f.ok() {
		return f
	}
	switch d.FEC.Type {
	case ShardData, ShardOOB:
		if want := wire - 6; int(d.FEC.Size) != want {
			return fault{kind: faultFECSize, off: 6, a: uint64(d.FEC.Size), b: uint64(want)}
		}
		if d.FEC.Type == ShardData {
			return d.decodeSegments(p[FECHeaderLen:], FECHeaderLen, wire-FECHeaderLen)
		}
		if wire < FECHeaderLen+4 {
			return fault{kind: faultOOBConv, off: FECHeaderLen, a: uint64(wire - FECHeaderLen)}
		}
	}
	d.Opaque = p[FECHeaderLen:]
	return fault{}
}

// OOBConv returns the conversation id of an OOB shard, and false when d is
// not a decoded OOB shard.
func (d *Datagram) OOBConv() (uint32, bool) {
	if d.Framing != FramingFEC || d.FEC.Type != ShardOOB || len(d.Opaque) < 4 {
		return 0, false
	}
	return binary.LittleEndian.Uint32(d.Opaque), true
}

// segmentsLen is the encoded length of d.Segments.
func (d *Datagram) segmentsLen() int {
	n := 0
	for i := range d.Segments {
		n += d.Segments[i].EncodedLen()
	}
	return n
}

// EncodedLen is the number of bytes AppendTo writes.
func (d *Datagram) EncodedLen() int {
	switch d.Framing {
	case FramingEncrypted:
		return len(d.Opaque)
	case FramingFEC:
		if d.FEC.Type == ShardData {
			return FECHeaderLen + d.segmentsLen()
		}
		return FECHeaderLen + len(d.Opaque)
	}
	return d.segmentsLen()
}

// AppendTo appends the encoded datagram to b. Plain (and FramingAuto):
// the segments. FEC: the header, then the segments for a data shard or
// Opaque for the others; Size is recomputed for data and OOB shards and
// written as it is for parity shards. Encrypted: Opaque.
func (d *Datagram) AppendTo(b []byte) []byte {
	switch d.Framing {
	case FramingEncrypted:
		return append(b, d.Opaque...)
	case FramingFEC:
		h := d.FEC
		switch h.Type {
		case ShardData:
			h.Size = uint16(2 + d.segmentsLen())
		case ShardOOB:
			h.Size = uint16(2 + len(d.Opaque))
		}
		b = h.AppendTo(b)
		if h.Type != ShardData {
			return append(b, d.Opaque...)
		}
	}
	for i := range d.Segments {
		b = d.Segments[i].AppendTo(b)
	}
	return b
}

// String summarises d on one line, e.g.
// "plain: ACK conv=0x… sn=0 … | PUSH conv=0x… sn=0 …",
// "fec parity seqid=13 size=1234: 1366 bytes" or "encrypted: 120 bytes".
func (d *Datagram) String() string {
	var sb strings.Builder
	switch d.Framing {
	case FramingEncrypted:
		return fmt.Sprintf("encrypted: %d bytes", len(d.Opaque))
	case FramingFEC:
		sb.WriteString(d.FEC.String())
		if d.FEC.Type != ShardData {
			fmt.Fprintf(&sb, ": %d bytes", len(d.Opaque))
			return sb.String()
		}
	default:
		sb.WriteString(d.Framing.String())
	}
	for i := range d.Segments {
		if i == 0 {
			sb.WriteString(": ")
		} else {
			sb.WriteString(" | ")
		}
		sb.WriteString(d.Segments[i].String())
	}
	return sb.String()
}
