package pcapfile

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

// maxCaptureLength is the longest record pcapgo accepts when the file's snap
// length is smaller (its eagerReadMax); the mapped reader accepts the same.
const maxCaptureLength = 262144

// mapped is the state of a pcap file read from memory (Open maps
// uncompressed pcap files): records are parsed in place, without copying.
type mapped struct {
	data  []byte
	off   int
	order binary.ByteOrder
	nanos uint32 // 1 for nanosecond files, 1000 for microsecond files
	snap  int
}

// nextMapped is Next for a mapped pcap file.
func (rd *Reader) nextMapped() (*Record, error) {
	m := rd.mem
	i := rd.rec.Frame
	off := m.off
	rest := m.data[off:]
	if len(rest) == 0 {
		return nil, io.EOF
	}
	end := int64(len(m.data))
	if len(rest) < 16 {
		return nil, &ReadError{Name: rd.s.name, Offset: int64(off),
			Msg: fmt.Sprintf("pcap record cut off (reading packet %d): the file ends at byte offset %d", i+1, end)}
	}
	sec, frac := m.order.Uint32(rest[0:]), m.order.Uint32(rest[4:])
	capLen, wireLen := int(m.order.Uint32(rest[8:])), int(m.order.Uint32(rest[12:]))
	if capLen > max(m.snap, maxCaptureLength) {
		return nil, &ReadError{Name: rd.s.name, Offset: int64(off), Msg: fmt.Sprintf("bad pcap record (reading packet %d)", i+1),
			Err: fmt.Errorf("capture length exceeds snap length: %d > %d", capLen, m.snap)}
	}
	if capLen > wireLen {
		return nil, &ReadError{Name: rd.s.name, Offset: int64(off), Msg: fmt.Sprintf("bad pcap record (reading packet %d)", i+1),
			Err: fmt.Errorf("capture length exceeds original packet length: %d > %d", capLen, wireLen)}
	}
	if len(rest)-16 < capLen {
		return nil, &ReadError{Name: rd.s.name, Offset: int64(off),
			Msg: fmt.Sprintf("pcap record cut off (reading packet %d): the file ends at byte offset %d", i+1, end)}
	}
	m.off = off + 16 + capLen
	frame := rest[16 : 16+capLen : 16+capLen]
	// A microsecond field over 999,999 (out of spec) wraps in 32 bits, as pcapgo's stream reader
	// (and Wireshark's) computes it, so that both readers give every record the same time.
	ts := time.Unix(int64(sec), int64(frac*m.nanos)).UTC()
	rd.fill(frame, ts, capLen, wireLen, rd.parser)
	return &rd.rec, nil
}
