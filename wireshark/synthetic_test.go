package wireshark

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"time"

	"kcplab/capture"
	"kcplab/internal/dir"
)

// Hand-made payloads, built here without kcpwire so that the two decoders are checked
// against an independent encoder.

const (
	cmdPush, cmdAck, cmdWask, cmdWins = 81, 82, 83, 84
	fecData, fecParity, fecOOB        = 0xf1, 0xf2, 0xf3
	synthConv                         = 0x01020304
)

// segBytes encodes one KCP segment.
func segBytes(conv uint32, cmd, frg byte, wnd uint16, ts, sn, una uint32, data []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, conv)
	b = append(b, cmd, frg)
	b = binary.LittleEndian.AppendUint16(b, wnd)
	for _, v := range []uint32{ts, sn, una, uint32(len(data))} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return append(b, data...)
}

// fecBytes prefixes body with an FEC header whose size field is 2 + len(body).
func fecBytes(seqid uint32, typ uint16, body []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, seqid)
	b = binary.LittleEndian.AppendUint16(b, typ)
	b = binary.LittleEndian.AppendUint16(b, uint16(2+len(body)))
	return append(b, body...)
}

// cat concatenates byte slices into a new one.
func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// randomBytes returns n bytes from r whose byte 4 is neither a KCP cmd nor an FEC type.
func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	if n > 4 {
		b[4] = 0x37
	}
	return b
}

// edgePayloads are valid and malformed payloads for a KCP port.
func edgePayloads() [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	push := segBytes(synthConv, cmdPush, 2, 32, 100, 7, 3, []byte("abc"))
	hugeLen := cat(push)
	binary.LittleEndian.PutUint32(hugeLen[20:], 0xffffffff)
	badSize := fecBytes(9, fecData, push)
	binary.LittleEndian.PutUint16(badSize[6:], 99)
	parity := fecBytes(10, fecParity, randomBytes(r, 40))
	parity[30], parity[31] = 0, 0
	parityNoZero := cat(parity)
	parityNoZero[31] = 1
	oob := fecBytes(0xffffffff, fecOOB, cat(binary.LittleEndian.AppendUint32(nil, synthConv), []byte("hi")))
	oobBadSeq := fecBytes(5, fecOOB, binary.LittleEndian.AppendUint32(nil, synthConv))
	return [][]byte{
		push, // frg 2
		cat(segBytes(synthConv, cmdWask, 0, 16, 101, 0, 3, nil), segBytes(synthConv, cmdWins, 0, 16, 101, 0, 3, nil)),
		cat(segBytes(synthConv, cmdAck, 0, 32, 90, 6, 3, nil), push),
		fecBytes(8, fecData, cat(segBytes(synthConv, cmdAck, 0, 32, 90, 6, 3, nil), push)),
		parity,
		parityNoZero,
		oob,
		oobBadSeq,
		randomBytes(r, 60), // opaque: encrypted in auto mode
		randomBytes(r, 32), // shortest encrypted
		randomBytes(r, 31), // too short for anything
		push[:20],          // truncated header
		push[:26],          // truncated data
		hugeLen,
		cat(push, []byte{1, 2, 3}), // trailing bytes
		cat(push, push[:24]),       // second segment's data missing
		badSize,
		[]byte{1, 2, 3},
		fecBytes(1, fecData, nil)[:7],
		segBytes(synthConv, 0x60, 0, 32, 0, 0, 0, nil), // unknown cmd
		fecBytes(3, 0xf4, randomBytes(r, 30)),          // unknown FEC type
		fecBytes(4, fecParity, randomBytes(r, 12)),     // parity shorter than 32 bytes
		{},
	}
}

// datagrams turns payloads into datagrams from client to server, 1 ms apart.
func datagrams(client, server netip.AddrPort, payloads [][]byte) []capture.Datagram {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	dgs := make([]capture.Datagram, len(payloads))
	for i, p := range payloads {
		dgs[i] = capture.Datagram{Time: t0.Add(time.Duration(i) * time.Millisecond), Src: client, Dst: server,
			Payload: p, Side: dir.C2S}
	}
	return dgs
}
