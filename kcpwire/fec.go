package kcpwire

import (
	"encoding/binary"
	"fmt"
)

// FECHeaderLen is the length of kcp-go's FEC header, size field included.
const FECHeaderLen = 8

// OOBSeqID is the seqid kcp-go writes in every OOB shard.
const OOBSeqID = 0xffffffff

// ShardType is the type field of kcp-go's FEC header.
type ShardType uint16

// Shard types of kcp-go's FEC framing (fec.go typeData, typeParity, typeOOB).
const (
	ShardData   ShardType = 0xf1 // carries KCP segments
	ShardParity ShardType = 0xf2 // Reed-Solomon parity of the previous data shards
	ShardOOB    ShardType = 0xf3 // out-of-band: conv (u32) + unreliable payload
)

// String returns "data", "parity", "oob", or "shard(0x....)".
func (t ShardType) String() string {
	switch t {
	case ShardData:
		return "data"
	case ShardParity:
		return "parity"
	case ShardOOB:
		return "oob"
	}
	return fmt.Sprintf("shard(0x%04x)", uint16(t))
}

// Valid reports whether t is one of the three shard types.
func (t ShardType) Valid() bool { return t >= ShardData && t <= ShardOOB }

// FECHeader is kcp-go's 8-byte FEC header, little-endian:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                        seqid (u32 LE)                         |  0
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     type (u16 LE: f1 00, f2 00, f3 00)|    size (u16 LE)      |  4
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// SeqID counts data and parity shards (0, 1, 2, ... per sender, wrapping
// below 2^32); OOB shards always carry OOBSeqID.
//
// Size is the raw little-endian value of bytes 6..7 for every type. For data
// and OOB shards it is 2 + the number of bytes after the header, i.e. the
// payload length - 6 (kcp-go never pads a data shard on the wire; the zero
// padding of fec.go exists only in the encoder's cache). For parity shards
// bytes 6.. of the payload are the Reed-Solomon shard (computed over the
// data shards from their size field on), so Size is just its first two bytes,
// not a length; the rest of the shard is Datagram.Opaque.
type FECHeader struct {
	SeqID uint32    // shard sequence number
	Type  ShardType // data, parity or oob
	Size  uint16    // raw bytes 6..7; see the type's documentation
}

// DecodeFromBytes decodes the header at b[0:]. It checks the length and the
// type, not the size field (Datagram.Decode does).
func (h *FECHeader) DecodeFromBytes(b []byte) error {
	return decodeFECHeader(h, b).err()
}

// decodeFECHeader is DecodeFromBytes without allocation.
func decodeFECHeader(h *FECHeader, b []byte) fault {
	if len(b) < FECHeaderLen {
		return fault{kind: faultFECHeader, off: 0, a: uint64(len(b))}
	}
	t := ShardType(binary.LittleEndian.Uint16(b[4:]))
	if !t.Valid() {
		return fault{kind: faultFECType, off: 4, a: uint64(t)}
	}
	*h = FECHeader{SeqID: binary.LittleEndian.Uint32(b), Type: t, Size: binary.LittleEndian.Uint16(b[6:])}
	return fault{}
}

// AppendTo appends the 8 header bytes to b, Size as it is.
func (h *FECHeader) AppendTo(b []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, h.SeqID)
	b = binary.LittleEndian.AppendUint16(b, uint16(h.Type))
	return binary.LittleEndian.AppendUint16(b, h.Size)
}

// String returns e.g. "fec data seqid=12 size=58".
func (h *FECHeader) String() string {
	return fmt.Sprintf("fec %s seqid=%d size=%d", h.Type, h.SeqID, h.Size)
}
