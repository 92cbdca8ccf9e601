package kcpwire

import (
	"encoding/binary"
	"net/netip"
)

// MinEncryptedLen is the shortest encrypted datagram kcp-go sends: a 16-byte
// nonce, a 4-byte CRC32, then an 8-byte FEC header and a 4-byte conv (an
// empty OOB shard). Without FEC the minimum is 20 + 24 = 44 bytes (CFB) or
// 12 + 24 + 16 = 52 bytes (AES-GCM).
const MinEncryptedLen = 16 + 4 + FECHeaderLen + 4

// Offset, in a FEC parity shard, of the two high bytes of the len field of
// the first segment of the data shards it protects.
const parityZeroOff = FECHeaderLen + offLen + 2

// cmdRank orders the commands the way kcp-go's and ikcp.c's flush write them
// into one datagram: ACKs, then the window probe (WASK), then the window
// size (WINS), then data (PUSH).
func cmdRank(c Cmd) int {
	switch c {
	case CmdAck:
		return 0
	case CmdWask:
		return 1
	case CmdWins:
		return 2
	}
	return 3
}

// Guess returns the framing of a kcp-go UDP payload when the payload itself
// is evidence of it, and FramingAuto ("not KCP") otherwise. It never returns
// FramingEncrypted: ciphertext is indistinguishable from any other random
// bytes, so only the user can say that a port carries encrypted KCP.
//
//   - plain: the payload is one or more segments whose len fields chain
//     exactly to its end, and they look like one kcp-go flush: valid cmd
//     (0x51..0x54); the same conv, wnd and una in every segment; frg and len
//     0 in every segment but PUSH, and len > 0 in PUSH (kcp-go's Send
//     refuses empty messages; ikcp.c's do not, decode those with
//     FramingPlain); and commands in flush order (ACKs, WASK, WINS, then
//     PUSHes);
//   - FEC: bytes 4..5 are f1 00 or f3 00 (a cmd byte is never 0xf1..0xf3, so
//     plain and FEC cannot be confused) and the shard is fully consistent: a
//     data shard's size field is payload length - 6 and its segments pass
//     the plain checks from offset 8; an OOB shard has seqid 0xffffffff,
//     size = length - 6 and room for its conv.
//
// FEC parity shards carry too little to check on their own (a Reed-Solomon
// combination of data shards: only their length and two zero bytes are
// known), so Guess does not claim them; Detector does, on a flow where it
// found FEC data shards before. Random bytes pass these checks with a
// probability below 2^-40. Guess does not allocate.
func Guess(payload []byte) Framing {
	return guess(payload, len(payload))
}

// guess is Guess on the captured bytes p of a payload of wire bytes on the
// wire (wire >= len(p)): the checks apply to what was captured, and the
// lengths must be consistent with wire.
func guess(p []byte, wire int) Framing {
	if len(p) < 6 {
		return FramingAuto
	}
	if Cmd(p[offCmd]).Valid() {
		if strictChain(p, wire) {
			return FramingPlain
		}
		return FramingAuto
	}
	if p[5] != 0 || len(p) < FECHeaderLen {
		return FramingAuto
	}
	size := int(binary.LittleEndian.Uint16(p[6:]))
	switch ShardType(p[4]) {
	case ShardData:
		if size == wire-6 && strictChain(p[FECHeaderLen:], wire-FECHeaderLen) {
			return FramingFEC
		}
	case ShardOOB:
		if binary.LittleEndian.Uint32(p) == OOBSeqID && size == wire-6 && wire >= FECHeaderLen+4 {
			return FramingFEC
		}
	}
	return FramingAuto
}

// GuessOnPort is Guess for a datagram on a port the user named as KCP (the
// dissector's kcp.ports preference does the same): plain if byte 4 is a cmd
// and the segments' len fields chain exactly to the end (no flush-shape
// checks: the user vouches for the port); FEC if the shard is consistent, a
// parity-shaped shard (IsParityShard) included; else encrypted when at
// least MinEncryptedLen bytes; FramingAuto otherwise.
func GuessOnPort(payload []byte) Framing {
	return guessOnPort(payload, len(payload))
}

// guessOnPort is GuessOnPort for wire bytes of which p was captured.
func guessOnPort(p []byte, wire int) Framing {
	if len(p) >= HeaderLen && Cmd(p[offCmd]).Valid() {
		if laxChain(p, wire) {
			return FramingPlain
		}
	} else if laxFEC(p, wire) {
		return FramingFEC
	}
	if wire >= MinEncryptedLen {
		return FramingEncrypted
	}
	return FramingAuto
}

// laxFEC reports whether p (wire bytes on the wire) is a consistent FEC
// shard: a data shard whose size is wire - 6 and whose segments chain
// (laxChain) from offset 8, an OOB shard as Guess requires it, or a
// parity-shaped shard.
func laxFEC(p []byte, wire int) bool {
	if len(p) < FECHeaderLen || p[5] != 0 {
		return false
	}
	switch ShardType(p[4]) {
	case ShardData:
		return int(binary.LittleEndian.Uint16(p[6:])) == wire-6 && laxChain(p[FECHeaderLen:], wire-FECHeaderLen)
	case ShardOOB:
		return guess(p, wire) == FramingFEC
	}
	return IsParityShard(p)
}

// laxChain reports whether b, the captured part of wire bytes, holds
// segments with valid cmds whose len fields chain exactly to wire.
func laxChain(b []byte, wire int) bool {
	off := 0
	for off < wire {
		if wire-off < HeaderLen {
			return false
		}
		if off+HeaderLen > len(b) {
			return off > 0
		}
		if !Cmd(b[off+offCmd]).Valid() {
			return false
		}
		n := binary.LittleEndian.Uint32(b[off+offLen:])
		if uint64(n) > uint64(wire-off-HeaderLen) {
			return false
		}
		off += HeaderLen + int(n)
	}
	return off > 0
}

// IsParityShard reports whether p is shaped like a kcp-go FEC parity shard:
// type f2 00 at bytes 4..5, at least 32 bytes, and bytes 30..31 zero (a
// parity shard is a byte-wise linear Reed-Solomon combination of data
// shards, and every data shard has zeros there: the high half of its first
// segment's len field, below 1500 in kcp-go). This is weak evidence; see
// Detector.
func IsParityShard(p []byte) bool {
	return len(p) >= FECHeaderLen+HeaderLen && p[4] == byte(ShardParity) && p[5] == 0 &&
		p[parityZeroOff] == 0 && p[parityZeroOff+1] == 0
}

// strictChain reports whether b, the captured part of wire bytes, is one or
// more segments as one kcp-go flush writes them (see Guess), the last one
// ending exactly at wire. Segments whose header was not captured cannot be
// checked; at least the first header must have been. It does not allocate.
func strictChain(b []byte, wire int) bool {
	if len(b) < HeaderLen || wire < HeaderLen {
		return false
	}
	conv := binary.LittleEndian.Uint32(b[0:])
	wnd := binary.LittleEndian.Uint16(b[6:])
	una := binary.LittleEndian.Uint32(b[16:])
	rank := 0
	off := 0
	for off < wire {
		if wire-off < HeaderLen {
			return false
		}
		if off+HeaderLen > len(b) {
			return true // the rest was not captured: consistent so far
		}
		h := b[off : off+HeaderLen]
		cmd := Cmd(h[offCmd])
		if !cmd.Valid() || binary.LittleEndian.Uint32(h[0:]) != conv ||
			binary.LittleEndian.Uint16(h[6:]) != wnd || binary.LittleEndian.Uint32(h[16:]) != una {
			return false
		}
		r := cmdRank(cmd)
		if r < rank {
			return false
		}
		rank = r
		n := binary.LittleEndian.Uint32(h[offLen:])
		if cmd != CmdPush && (n != 0 || h[5] != 0) || cmd == CmdPush && n == 0 {
			return false
		}
		if uint64(n) > uint64(wire-off-HeaderLen) {
			return false
		}
		off += HeaderLen + int(n)
	}
	return true
}

// flowKey is an unordered pair of UDP endpoints.
type flowKey struct{ a, b netip.AddrPort }

// newFlowKey returns the key of the flow between src and dst, either direction.
func newFlowKey(src, dst netip.AddrPort) flowKey {
	if src.Compare(dst) > 0 {
		src, dst = dst, src
	}
	return flowKey{src, dst}
}

// Detector decodes the datagrams of one capture, in capture order, the way
// the Wireshark dissector's heuristic does: framing auto claims a datagram
// only on the evidence Guess requires, plus FEC parity shards (IsParityShard)
// on a flow where it found an FEC data shard before. The zero value is
// ready to use; it is not safe for concurrent use.
type Detector struct {
	fecFlows map[flowKey]struct{}
}

// Decode decodes into d the captured UDP payload p of a datagram from src to
// dst that had wireLen bytes on the wire (a smaller wireLen means len(p)),
// with framing f; see Datagram.DecodeCaptured and, for FramingAuto, Detector.
func (t *Detector) Decode(d *Datagram, p []byte, wireLen int, src, dst netip.AddrPort, f Framing) error {
	flt := d.decode(p, wireLen, f)
	if f != FramingAuto {
		return flt.err()
	}
	if !flt.ok() && flt.kind == faultNotKCP && IsParityShard(p) {
		if _, ok := t.fecFlows[newFlowKey(src, dst)]; ok {
			flt = d.decode(p, wireLen, FramingFEC)
		}
	} else if flt.ok() && d.Framing == FramingFEC && d.FEC.Type == ShardData {
		k := newFlowKey(src, dst)
		if _, ok := t.fecFlows[k]; !ok {
			if t.fecFlows == nil {
				t.fecFlows = map[flowKey]struct{}{}
			}
			t.fecFlows[k] = struct{}{}
		}
	}
	return flt.err()
}

// DecodeOnPort decodes into d the captured UDP payload p (wireLen bytes on
// the wire) of a datagram on a port the user named as KCP, with the framing
// GuessOnPort gives; it fails with a "not KCP" *DecodeError when there is
// none (too short to be encrypted).
func (t *Detector) DecodeOnPort(d *Datagram, p []byte, wireLen int) error {
	f := guessOnPort(p, max(wireLen, len(p)))
	if f == FramingAuto {
		return d.decode(p, wireLen, FramingAuto).err()
	}
	return d.decode(p, wireLen, f).err()
}
