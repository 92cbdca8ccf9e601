package kcpwire

import "encoding/binary"

// MinEncryptedLen is the shortest encrypted datagram kcp-go sends: a 16-byte
// nonce, a 4-byte CRC32, then an 8-byte FEC header and a 4-byte conv (an
// empty OOB shard). Without FEC the minimum is 20 + 24 = 44 bytes (CFB) or
// 12 + 24 + 16 = 52 bytes (AES-GCM).
const MinEncryptedLen = 16 + 4 + FECHeaderLen + 4

// Offset, in a FEC parity shard, of the two high bytes of the len field of
// the first segment of the data shards it protects.
const parityZeroOff = FECHeaderLen + offLen + 2

// Guess returns the framing of a kcp-go UDP payload, or FramingAuto when it
// is none of them ("not KCP"). Rules, in order:
//
//   - plain: byte 4 is a valid cmd (0x51..0x54) and the payload is one or
//     more segments whose len fields chain exactly to its end;
//   - FEC: bytes 4..5 are f1 00, f2 00 or f3 00 (a cmd byte is never
//     0xf1..0xf3, so plain and FEC cannot be confused) and the shard is fully
//     consistent: a data shard's size field is payload length - 6 and
//     segments chain exactly from offset 8 to the end; an OOB shard has
//     seqid 0xffffffff, size = length - 6 and room for its conv; a parity
//     shard is at least 32 bytes and its bytes 30 and 31 are zero. (A parity
//     shard is a byte-wise linear Reed-Solomon combination of data shards;
//     every data shard has its first segment's len field at offset 28..31
//     and kcp-go's len is below 1500, so bytes 30..31 are zero in every data
//     shard and therefore in every parity shard);
//   - encrypted: otherwise, if the payload has at least MinEncryptedLen
//     bytes (kcp-go ciphertext is random; it passes the checks above with a
//     probability of about 2^-32).
//
// Plain and FEC traffic is always guessed right; a plain or FEC datagram
// that is damaged (truncated capture, garbage) is reported as encrypted when
// long enough, and FramingAuto otherwise. Guess does not allocate.
func Guess(payload []byte) Framing {
	if len(payload) >= HeaderLen && Cmd(payload[offCmd]).Valid() {
		if chainOK(payload) {
			return FramingPlain
		}
	} else if isFEC(payload) {
		return FramingFEC
	}
	if len(payload) >= MinEncryptedLen {
		return FramingEncrypted
	}
	return FramingAuto
}

// isFEC reports whether p is a consistent FEC shard as kcp-go sends them.
func isFEC(p []byte) bool {
	if len(p) < FECHeaderLen || p[5] != 0 {
		return false
	}
	size := int(binary.LittleEndian.Uint16(p[6:]))
	switch ShardType(p[4]) {
	case ShardData:
		return size == len(p)-6 && chainOK(p[FECHeaderLen:])
	case ShardParity:
		return len(p) >= FECHeaderLen+HeaderLen && p[parityZeroOff] == 0 && p[parityZeroOff+1] == 0
	case ShardOOB:
		return binary.LittleEndian.Uint32(p) == OOBSeqID && size == len(p)-6 && len(p) >= FECHeaderLen+4
	}
	return false
}
