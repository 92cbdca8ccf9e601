package kcpwire

import "encoding/binary"

// testConv is the conversation id of the synthetic test segments.
const testConv = 0x0a0b0c0d

// seg returns a synthetic segment with Len set to len(data).
func seg(cmd Cmd, sn, una uint32, data string) Segment {
	s := Segment{Conv: testConv, Cmd: cmd, Wnd: 32, Ts: 1000 + sn, Sn: sn, Una: una, Len: uint32(len(data))}
	if data != "" {
		s.Data = []byte(data)
	}
	return s
}

// plainBytes encodes segments back to back.
func plainBytes(segs ...Segment) []byte {
	var b []byte
	for i := range segs {
		b = segs[i].AppendTo(b)
	}
	return b
}

// fecBytes prefixes body with a FEC header whose size is 2 + len(body).
func fecBytes(seqid uint32, typ ShardType, body []byte) []byte {
	h := FECHeader{SeqID: seqid, Type: typ, Size: uint16(2 + len(body))}
	return append(h.AppendTo(nil), body...)
}

// parityBytes returns a parity-shaped shard of n bytes (n >= 32) whose bytes
// 30..31 are zero, as in every kcp-go parity shard.
func parityBytes(seqid uint32, n int) []byte {
	b := make([]byte, n)
	binary.LittleEndian.PutUint32(b, seqid)
	binary.LittleEndian.PutUint16(b[4:], uint16(ShardParity))
	for i := 6; i < n; i++ {
		b[i] = byte(i*7 + 1)
	}
	b[30], b[31] = 0, 0
	return b
}

// oobBytes returns an OOB shard carrying conv and data.
func oobBytes(conv uint32, data string) []byte {
	body := binary.LittleEndian.AppendUint32(nil, conv)
	b := fecBytes(OOBSeqID, ShardOOB, append(body, data...))
	return b
}

// noise returns n pseudo-random bytes (fixed sequence) whose byte 4 is not a
// cmd and bytes 4..5 are not a FEC type, like kcp-go ciphertext mostly is.
func noise(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	if n > 5 {
		b[4], b[5] = 0x99, 0x42
	}
	return b
}
