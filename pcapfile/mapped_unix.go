//go:build unix

package pcapfile

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"syscall"

	"github.com/gopacket/gopacket/pcapgo"

	"kcplab/internal/linklayer"
)

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
	data, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, mmapFlags)
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
