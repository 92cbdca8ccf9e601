package pcapfile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"kcplab/internal/linklayer"
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
	nanos int64 // 1 for nanosecond files, 1000 for microsecond files
	snap  int
}

// unmapCloser unmaps a file mapping and closes the file.
type unmapCloser struct {
	data []byte
	f    *os.File
}

// Close unmaps the file and closes it.
func (u *unmapCloser) Close() error {
	err := syscall.Munmap(u.data)
	if cerr := u.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// openMapped maps f when it is an uncompressed pcap file whose header pcapgo
// accepts; ok is false (and nothing is held) otherwise, and the caller reads
// f as a stream.
func openMapped(f *os.File, name string) (rd *Reader, closer io.Closer, ok bool) {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() < 24 || st.Size() > 1<<40 {
		return nil, nil, false
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_PRIVATE|syscall.MAP_POPULATE)
	if err != nil {
		return nil, nil, false
	}
	le, be := binary.LittleEndian.Uint32(data), binary.BigEndian.Uint32(data)
	if le != magicPcapMicros && be != magicPcapMicros && le != magicPcapNanos && be != magicPcapNanos {
		_ = syscall.Munmap(data)
		return nil, nil, false
	}
	pr, err := pcapgo.NewReader(bytes.NewReader(data[:24]))
	if err != nil {
		_ = syscall.Munmap(data)
		return nil, nil, false
	}
	li, known := linklayer.Lookup(pr.LinkType())
	if !known {
		_ = syscall.Munmap(data)
		return nil, nil, false
	}
	m := &mapped{data: data, off: 24, order: binary.LittleEndian, nanos: 1000, snap: int(pr.Snaplen())}
	if le != magicPcapMicros && le != magicPcapNanos {
		m.order = binary.BigEndian
	}
	if le == magicPcapNanos || be == magicPcapNanos {
		m.nanos = 1
	}
	rd = &Reader{s: newStream(bytes.NewReader(nil), name), mem: m, parser: linklayer.NewParser(li)}
	rd.seen = append(rd.seen, pr.LinkType())
	return rd, &unmapCloser{data: data, f: f}, true
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
	ts := time.Unix(int64(sec), int64(frac)*m.nanos).UTC()
	rd.fill(frame, ts, capLen, wireLen, rd.parser)
	return &rd.rec, nil
}
