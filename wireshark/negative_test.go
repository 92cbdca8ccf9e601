package wireshark

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"time"

	"kcplab/capture"
	"kcplab/internal/dir"
)

// heuristicCase is one datagram of the heuristic test and whether KCP must claim it.
type heuristicCase struct {
	name    string
	dstPort uint16 // 0: a free port of the test's choosing
	payload []byte
	claim   bool
}

// dnsQuery is a DNS query for example.com, type A.
var dnsQuery = []byte{0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0x00, 0x01, 0x00, 0x01}

// quicInitial returns a QUIC v1 long-header Initial-like packet of 1200 bytes.
func quicInitial(r *rand.Rand) []byte {
	b := randomBytes(r, 1200)
	b[0] = 0xc0
	copy(b[1:], []byte{0, 0, 0, 1, 8}) // version 1, DCID length 8
	return b
}

// heuristicCases are other UDP traffic and near-KCP payloads the heuristic must leave alone,
// plus valid KCP that it must claim (showing that it runs).
func heuristicCases() []heuristicCase {
	r := rand.New(rand.NewPCG(3, 4))
	push := segBytes(synthConv, cmdPush, 0, 32, 100, 7, 3, []byte("abc"))
	ack := segBytes(synthConv, cmdAck, 0, 32, 100, 7, 8, nil)
	ackWithData := segBytes(synthConv, cmdAck, 0, 32, 100, 7, 8, []byte("x"))
	ackWithFrg := segBytes(synthConv, cmdAck, 1, 32, 100, 7, 8, nil)
	otherConv := segBytes(synthConv+1, cmdPush, 0, 32, 100, 8, 3, []byte("d"))
	badSize := fecBytes(9, fecData, push)
	binary.LittleEndian.PutUint16(badSize[6:], 40)
	parity := fecBytes(10, fecParity, randomBytes(r, 40))
	parity[30], parity[31] = 0, 0
	cases := []heuristicCase{
		{name: "dns on 53", dstPort: 53, payload: dnsQuery},
		{name: "dns elsewhere", payload: dnsQuery},
		{name: "quic on 443", dstPort: 443, payload: quicInitial(r)},
		{name: "quic elsewhere", payload: quicInitial(r)},
		{name: "plain then garbage", payload: cat(push, []byte{0})},
		{name: "ack with data", payload: ackWithData},
		{name: "ack with frg", payload: ackWithFrg},
		{name: "two convs", payload: cat(ack, otherConv)},
		{name: "two wnds", payload: cat(ack, segBytes(synthConv, cmdPush, 0, 31, 100, 8, 8, []byte("d")))},
		{name: "two unas", payload: cat(ack, segBytes(synthConv, cmdPush, 0, 32, 100, 8, 9, []byte("d")))},
		{name: "fec wrong size", payload: badSize},
		{name: "parity on unknown flow", payload: parity},
		{name: "oob wrong seqid", payload: fecBytes(7, fecOOB, binary.LittleEndian.AppendUint32(nil, synthConv))},
		{name: "plain control", payload: cat(ack, segBytes(synthConv, cmdPush, 0, 32, 100, 8, 8, []byte("d"))), claim: true},
		{name: "fec control", payload: fecBytes(11, fecData, push), claim: true},
	}
	for i := 0; i < 40; i++ {
		b := make([]byte, 1+r.IntN(100))
		for j := range b {
			b[j] = byte(r.UintN(256))
		}
		cases = append(cases, heuristicCase{name: "random", payload: b})
	}
	return cases
}

// heuristicDatagrams places the cases on distinct flows from 127.0.0.1: a case without a
// port gets the next port >= 20000 not in avoid.
func heuristicDatagrams(cases []heuristicCase, avoid map[uint16]bool) []capture.Datagram {
	lo := netip.MustParseAddr("127.0.0.1")
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	next := uint16(20000)
	free := func() uint16 {
		for avoid[next] {
			next++
		}
		next++
		return next - 1
	}
	src := netip.AddrPortFrom(lo, free())
	dgs := make([]capture.Datagram, len(cases))
	for i, c := range cases {
		port := c.dstPort
		if port == 0 {
			port = free()
		}
		dgs[i] = capture.Datagram{Time: t0.Add(time.Duration(i) * time.Millisecond), Src: src,
			Dst: netip.AddrPortFrom(lo, port), Payload: c.payload, Side: dir.C2S}
	}
	return dgs
}
