package capture

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// File is what a capture file holds.
type File struct {
	Name      string
	LinkType  string     // link type name, e.g. "Ethernet", "Null", "Linux SLL"; comma-separated if a pcapng file mixes several
	Datagrams []Datagram // the UDP datagrams in file order; Side is SideUnknown (files do not say who sent)
	Skipped   int        // non-UDP packets
	Truncated int        // datagrams whose captured payload is shorter than their UDP length says
	Section   string     // pcapng section comment ("" for pcap)
	// Comments holds pcapng packet comments, key = index into Datagrams (comments of skipped packets are dropped).
	Comments map[int][]string
}

// ReadError is the error Read and ReadFile return for a file they cannot read.
type ReadError struct {
	Name   string // the file's name
	Offset int64  // byte offset of the header or record that could not be read
	Msg    string // what is wrong
	Err    error  // underlying error, may be nil
}

// Error returns "capture: NAME: byte offset N: MSG[: ERR]".
func (e *ReadError) Error() string {
	s := fmt.Sprintf("capture: %s: byte offset %d: %s", e.Name, e.Offset, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *ReadError) Unwrap() error { return e.Err }

// Magic numbers at the start of capture files.
const (
	magicPcapng     = 0x0A0D0D0A
	magicPcapMicros = 0xA1B2C3D4
	magicPcapNanos  = 0xA1B23C4D
)

// ReadFile reads the pcap or pcapng (optionally gzip-compressed) file at path.
func ReadFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	defer f.Close()
	return Read(f, path)
}

// Read reads a pcap (microsecond or nanosecond, either byte order) or pcapng
// capture, optionally gzip-compressed, from r; name is used in errors and as
// File.Name. It returns a *ReadError naming the byte offset of the failing
// header or record for anything that is not a complete capture of a supported
// link type. For gzip input, offsets count decompressed bytes.
func Read(r io.Reader, name string) (f *File, err error) {
	if r == nil {
		return nil, &ReadError{Name: name, Msg: "no reader"}
	}
	s := newStream(r, name)
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, &ReadError{Name: name, Offset: s.pos(), Msg: fmt.Sprintf("internal error decoding the file: %v", p)}
		}
	}()
	magic, perr := s.br.Peek(4)
	if len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, gerr := gzip.NewReader(s.br)
		if gerr != nil {
			return nil, &ReadError{Name: name, Offset: 0, Msg: "bad gzip header", Err: gerr}
		}
		defer gz.Close()
		s = newStream(gz, name)
		s.note = " (decompressed)"
		magic, perr = s.br.Peek(4)
	}
	return s.read(magic, perr)
}

// stream is the reader state: br buffers cr, and pcapgo reuses br as its own
// bufio.Reader, so the bytes consumed so far are cr.n - br.Buffered().
type stream struct {
	name string
	note string // " (decompressed)" for gzip input
	cr   *countingReader
	br   *bufio.Reader
	file *File
}

func newStream(r io.Reader, name string) *stream {
	cr := &countingReader{r: r}
	return &stream{name: name, cr: cr, br: bufio.NewReaderSize(cr, 4096), file: &File{Name: name}}
}

// pos is the offset of the next byte the parser will consume.
func (s *stream) pos() int64 { return s.cr.n - int64(s.br.Buffered()) }

// fail builds the *ReadError for a failure at byte offset off.
func (s *stream) fail(off int64, err error, format string, args ...any) *ReadError {
	return &ReadError{Name: s.name, Offset: off, Msg: fmt.Sprintf(format, args...) + s.note, Err: err}
}

// read dispatches on the first four bytes of the stream.
func (s *stream) read(magic []byte, perr error) (*File, error) {
	if len(magic) == 0 {
		if perr != nil && !errors.Is(perr, io.EOF) {
			return nil, s.fail(0, perr, "cannot read")
		}
		return nil, s.fail(0, nil, "empty file, not a pcap or pcapng capture")
	}
	if len(magic) < 4 {
		if errors.Is(perr, io.EOF) {
			perr = nil
		}
		return nil, s.fail(0, perr, "cut off after %d bytes, too short for a capture header", len(magic))
	}
	le, be := binary.LittleEndian.Uint32(magic), binary.BigEndian.Uint32(magic)
	switch {
	case le == magicPcapng:
		return s.readPcapng()
	case le == magicPcapMicros || be == magicPcapMicros || le == magicPcapNanos || be == magicPcapNanos:
		return s.readPcap()
	case magic[0] == 0x1f && magic[1] == 0x8b:
		return nil, s.fail(0, nil, "gzip inside gzip is not supported")
	}
	return nil, s.fail(0, nil, "not a pcap or pcapng capture (starts with % x)", magic)
}

// recordError reports a failure to read packet i from the record (pcap) or
// block (pcapng) that started at off.
func (s *stream) recordError(what string, i int, off int64, err error) *ReadError {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return s.fail(off, nil, "%s cut off (reading packet %d): the file ends at byte offset %d", what, i, s.pos())
	}
	return s.fail(off, err, "bad %s (reading packet %d)", what, i)
}

func (s *stream) readPcap() (*File, error) {
	pr, err := pcapgo.NewReader(s.br)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, s.fail(0, nil, "pcap file header cut off: the file ends at byte offset %d", s.pos())
		}
		return nil, s.fail(0, err, "bad pcap file header")
	}
	li, ok := linkTypes[pr.LinkType()]
	if !ok {
		return nil, s.fail(20, nil, "link type %d is not supported (supported: %s)", uint32(pr.LinkType()), supportedLinkTypes)
	}
	s.file.LinkType = li.name
	parser := newUDPParser(li)
	for i := 0; ; i++ {
		off := s.pos()
		data, ci, err := pr.ReadPacketData()
		if errors.Is(err, io.EOF) && s.pos() == off {
			return s.file, nil
		}
		if err != nil {
			return nil, s.recordError("pcap record", i, off, err)
		}
		s.add(parser.decode(data, ci.Timestamp), nil)
	}
}

func (s *stream) readPcapng() (*File, error) {
	nr, err := pcapgo.NewNgReader(s.br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, s.fail(0, nil, "pcapng section header cut off: the file ends at byte offset %d", s.pos())
		}
		return nil, s.fail(0, err, "bad pcapng section header")
	}
	s.file.Section = nr.SectionInfo().Comment
	var seen []layers.LinkType
	parsers := map[layers.LinkType]*udpParser{}
	for i := 0; ; i++ {
		off := s.pos()
		data, ci, opts, err := nr.ReadPacketDataWithOptions()
		if err == io.EOF { // only at a block boundary; a cut block is io.ErrUnexpectedEOF
			break
		}
		if err != nil {
			return nil, s.recordError("pcapng block", i, off, err)
		}
		var lt layers.LinkType
		ok := len(ci.AncillaryData) > 0
		if ok {
			lt, ok = ci.AncillaryData[0].(layers.LinkType)
		}
		if !ok {
			return nil, s.fail(off, nil, "packet %d has no interface link type", i)
		}
		li, ok := linkTypes[lt]
		if !ok {
			return nil, s.fail(off, nil, "packet %d: link type %d is not supported (supported: %s)", i, uint32(lt), supportedLinkTypes)
		}
		if !slices.Contains(seen, lt) {
			seen = append(seen, lt)
		}
		parser, ok := parsers[lt]
		if !ok {
			parser = newUDPParser(li)
			parsers[lt] = parser
		}
		s.add(parser.decode(data, ci.Timestamp), opts.Comments)
	}
	if len(seen) == 0 {
		for i := range nr.NInterfaces() {
			if intf, err := nr.Interface(i); err == nil && !slices.Contains(seen, intf.LinkType) {
				seen = append(seen, intf.LinkType)
			}
		}
	}
	names := make([]string, 0, len(seen))
	for _, lt := range seen {
		if n := linkTypeName(lt); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	s.file.LinkType = strings.Join(names, ",")
	return s.file, nil
}

// add appends a decoded frame to the file (or counts it as skipped).
func (s *stream) add(d decoded, comments []string) {
	f := s.file
	if !d.udp {
		f.Skipped++
		return
	}
	if d.truncated {
		f.Truncated++
	}
	if len(comments) > 0 {
		if f.Comments == nil {
			f.Comments = map[int][]string{}
		}
		f.Comments[len(f.Datagrams)] = comments
	}
	f.Datagrams = append(f.Datagrams, d.dg)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
