package pcapfile

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
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"kcplab/capture"
	"kcplab/internal/linklayer"
)

// File is what a capture file holds.
type File struct {
	Name      string
	LinkType  string             // link type name, e.g. "Ethernet", "Null", "Linux SLL"; comma-separated if a pcapng file mixes several
	Datagrams []capture.Datagram // the UDP datagrams in file order; Side is dir.Unknown (files do not say who sent)
	Frames    []int              // Frames[i] is the record number (Wireshark's frame.number, from 1) of Datagrams[i]
	Skipped   int                // non-UDP packets
	Truncated int                // datagrams whose captured payload is shorter than their UDP length says
	Section   string             // pcapng section comment ("" for pcap)
	// Comments holds pcapng packet comments, key = index into Datagrams (comments of skipped packets are dropped).
	Comments map[int][]string
}

// ReadError is the error Read, ReadFile and Reader.Next return for a file they cannot read.
type ReadError struct {
	Name   string // the file's name
	Offset int64  // byte offset of the header or record that could not be read
	Msg    string // what is wrong
	Err    error  // underlying error, may be nil
}

// Error returns "pcapfile: NAME: byte offset N: MSG[: ERR]".
func (e *ReadError) Error() string {
	s := fmt.Sprintf("pcapfile: %s: byte offset %d: %s", e.Name, e.Offset, e.Msg)
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

// ReadFile reads the pcap or pcapng (optionally gzip-compressed) file at
// path, see Read.
func ReadFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pcapfile: %w", err)
	}
	defer f.Close()
	return Read(f, path)
}

// Read reads a whole pcap (microsecond or nanosecond, either byte order) or
// pcapng capture, optionally gzip-compressed, from r; name is used in errors
// and as File.Name. The payloads are copies. For a file it cannot read to
// the end it returns a *ReadError naming the byte offset of the failing
// header or record, together with the File of the complete records before
// it (nil when not even the file header could be read). For gzip input,
// offsets count decompressed bytes.
func Read(r io.Reader, name string) (f *File, err error) {
	rd, err := NewReader(r, name)
	if err != nil {
		return nil, err
	}
	f = &File{Name: name, Section: rd.Section()}
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, &ReadError{Name: name, Offset: rd.s.pos(), Msg: fmt.Sprintf("internal error decoding the file: %v", p)}
		}
	}()
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			f.LinkType = rd.LinkType()
			return f, err
		}
		if !rec.UDP {
			f.Skipped++
			continue
		}
		if rec.Truncated() {
			f.Truncated++
		}
		if len(rec.Comments) > 0 {
			if f.Comments == nil {
				f.Comments = map[int][]string{}
			}
			f.Comments[len(f.Datagrams)] = slices.Clone(rec.Comments)
		}
		dg := rec.Datagram
		dg.Payload = slices.Clone(dg.Payload)
		if dg.Payload == nil {
			dg.Payload = []byte{}
		}
		f.Datagrams = append(f.Datagrams, dg)
		f.Frames = append(f.Frames, rec.Frame)
	}
	f.LinkType = rd.LinkType()
	return f, nil
}

// Record is one packet record of a capture file, as Reader.Next returns it.
type Record struct {
	Frame         int       // record number from 1, counting every packet record (Wireshark's frame.number)
	Time          time.Time // capture time
	CaptureLength int       // bytes of the frame in the file
	Length        int       // bytes of the frame on the wire
	UDP           bool      // the frame holds a UDP datagram; the fields below are set only then
	// Datagram is the UDP datagram (Side is dir.Unknown); its Payload aliases
	// the reader's buffer and is valid only until the next call of Next.
	Datagram capture.Datagram
	WireLen  int      // UDP payload length on the wire (from the UDP length field), >= len(Datagram.Payload)
	Comments []string // pcapng packet comments (valid until the next call of Next)
}

// Truncated reports whether the file holds less of the UDP payload than was
// sent (the capture's snap length cut it).
func (r *Record) Truncated() bool { return r.UDP && len(r.Datagram.Payload) < r.WireLen }

// Reader reads the packet records of a pcap or pcapng file one at a time,
// without allocating per record for pcap. Not safe for concurrent use.
type Reader struct {
	s       *stream
	gz      *gzip.Reader
	pcap    *pcapgo.Reader
	ng      *pcapgo.NgReader
	mem     *mapped                               // uncompressed pcap files opened with Open: records parsed in place
	parser  *linklayer.Parser                     // pcap: the file's link type
	parsers map[layers.LinkType]*linklayer.Parser // pcapng: per link type
	seen    []layers.LinkType
	rec     Record
	frags   reassembler // IP fragments held until their datagram is whole
	err     error       // sticky: io.EOF or the *ReadError returned
}

// Open opens the capture file at path for reading; Close closes it. An
// uncompressed pcap file is mapped into memory and its records are parsed
// in place (no read syscalls, no copies); other files are read as streams.
func Open(path string) (*Reader, io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("pcapfile: %w", err)
	}
	if rd, closer, ok := openMapped(f, path); ok {
		return rd, closer, nil
	}
	rd, err := NewReader(f, path)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return rd, f, nil
}

// NewReader reads the file header of a pcap or pcapng capture (optionally
// gzip-compressed) from r; name is used in errors. The error is a *ReadError.
func NewReader(r io.Reader, name string) (rd *Reader, err error) {
	if r == nil {
		return nil, &ReadError{Name: name, Msg: "no reader"}
	}
	s := newStream(r, name)
	defer func() {
		if p := recover(); p != nil {
			rd, err = nil, &ReadError{Name: name, Offset: s.pos(), Msg: fmt.Sprintf("internal error decoding the file: %v", p)}
		}
	}()
	rd = &Reader{s: s}
	magic, perr := s.br.Peek(4)
	if len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, gerr := gzip.NewReader(s.br)
		if gerr != nil {
			return nil, &ReadError{Name: name, Offset: 0, Msg: "bad gzip header", Err: gerr}
		}
		rd.gz = gz
		s = newStream(gz, name)
		s.note = " (decompressed)"
		rd.s = s
		magic, perr = s.br.Peek(4)
	}
	if err := rd.open(magic, perr); err != nil {
		return nil, err
	}
	return rd, nil
}

// stream is the reader state: br buffers cr, and pcapgo reuses br as its own
// bufio.Reader, so the bytes consumed so far are cr.n - br.Buffered().
type stream struct {
	name string
	note string // " (decompressed)" for gzip input
	cr   *countingReader
	br   *bufio.Reader
}

func newStream(r io.Reader, name string) *stream {
	cr := &countingReader{r: r}
	return &stream{name: name, cr: cr, br: bufio.NewReaderSize(cr, 64<<10)}
}

// pos is the offset of the next byte the parser will consume.
func (s *stream) pos() int64 { return s.cr.n - int64(s.br.Buffered()) }

// fail builds the *ReadError for a failure at byte offset off.
func (s *stream) fail(off int64, err error, format string, args ...any) *ReadError {
	return &ReadError{Name: s.name, Offset: off, Msg: fmt.Sprintf(format, args...) + s.note, Err: err}
}

// open dispatches on the first four bytes of the stream and reads the file header.
func (rd *Reader) open(magic []byte, perr error) error {
	s := rd.s
	if len(magic) == 0 {
		if perr != nil && !errors.Is(perr, io.EOF) {
			return s.fail(0, perr, "cannot read")
		}
		return s.fail(0, nil, "empty file, not a pcap or pcapng capture")
	}
	if len(magic) < 4 {
		if errors.Is(perr, io.EOF) {
			perr = nil
		}
		return s.fail(0, perr, "cut off after %d bytes, too short for a capture header", len(magic))
	}
	le, be := binary.LittleEndian.Uint32(magic), binary.BigEndian.Uint32(magic)
	switch {
	case le == magicPcapng:
		nr, err := pcapgo.NewNgReader(s.br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return s.fail(0, nil, "pcapng section header cut off: the file ends at byte offset %d", s.pos())
			}
			return s.fail(0, err, "bad pcapng section header")
		}
		rd.ng, rd.parsers = nr, map[layers.LinkType]*linklayer.Parser{}
		return nil
	case le == magicPcapMicros || be == magicPcapMicros || le == magicPcapNanos || be == magicPcapNanos:
		pr, err := pcapgo.NewReader(s.br)
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return s.fail(0, nil, "pcap file header cut off: the file ends at byte offset %d", s.pos())
			}
			return s.fail(0, err, "bad pcap file header")
		}
		li, ok := linklayer.Lookup(pr.LinkType())
		if !ok {
			return s.fail(20, nil, "link type %d is not supported (supported: %s)", uint32(pr.LinkType()), linklayer.Supported)
		}
		rd.pcap, rd.parser, rd.seen = pr, linklayer.NewParser(li), []layers.LinkType{pr.LinkType()}
		return nil
	case magic[0] == 0x1f && magic[1] == 0x8b:
		return s.fail(0, nil, "gzip inside gzip is not supported")
	}
	return s.fail(0, nil, "not a pcap or pcapng capture (starts with % x)", magic)
}

// Section returns the pcapng section comment ("" for pcap).
func (rd *Reader) Section() string {
	if rd.ng == nil {
		return ""
	}
	return rd.ng.SectionInfo().Comment
}

// LinkType names the link types of the records read so far (for pcapng
// without records: of its interfaces), comma-separated.
func (rd *Reader) LinkType() string {
	seen := rd.seen
	if len(seen) == 0 && rd.ng != nil {
		for i := range rd.ng.NInterfaces() {
			if intf, err := rd.ng.Interface(i); err == nil && !slices.Contains(seen, intf.LinkType) {
				seen = append(seen, intf.LinkType)
			}
		}
	}
	names := make([]string, 0, len(seen))
	for _, lt := range seen {
		if n := linklayer.Name(lt); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return strings.Join(names, ",")
}

// Next returns the next packet record, io.EOF after the last one, or a
// *ReadError for a record it cannot read (cut off, malformed, unsupported
// link type); after an error it keeps returning it. The Record is reused by
// the next call. Next does not panic on malformed input (FuzzRead checks
// it through Read).
func (rd *Reader) Next() (rec *Record, err error) {
	if rd.err != nil {
		return nil, rd.err
	}
	if rd.mem != nil {
		rec, err = rd.nextMapped()
	} else {
		rec, err = rd.nextStream()
	}
	if err != nil {
		rd.err = err
	}
	return rec, err
}

// nextStream is Next for files read through pcapgo.
func (rd *Reader) nextStream() (*Record, error) {
	i := rd.rec.Frame // records read so far
	off := rd.s.pos()
	var (
		data   []byte
		ci     gopacket.CaptureInfo
		parser *linklayer.Parser
		err    error
	)
	rd.rec.Comments = nil
	if rd.pcap != nil {
		data, ci, err = rd.pcap.ZeroCopyReadPacketData()
		if errors.Is(err, io.EOF) && rd.s.pos() == off {
			return nil, io.EOF
		}
		if err != nil {
			return nil, rd.recordError("pcap record", i, off, err)
		}
		parser = rd.parser
	} else {
		var opts pcapgo.NgPacketOptions
		data, ci, opts, err = rd.ng.ZeroCopyReadPacketDataWithOptions()
		if err == io.EOF { // only at a block boundary; a cut block is io.ErrUnexpectedEOF
			return nil, io.EOF
		}
		if err != nil {
			return nil, rd.recordError("pcapng block", i, off, err)
		}
		rd.rec.Comments = opts.Comments
		var lt layers.LinkType
		ok := len(ci.AncillaryData) > 0
		if ok {
			lt, ok = ci.AncillaryData[0].(layers.LinkType)
		}
		if !ok {
			return nil, rd.s.fail(off, nil, "packet %d has no interface link type", i+1)
		}
		if parser = rd.parsers[lt]; parser == nil {
			li, ok := linklayer.Lookup(lt)
			if !ok {
				return nil, rd.s.fail(off, nil, "packet %d: link type %d is not supported (supported: %s)", i+1, uint32(lt), linklayer.Supported)
			}
			parser = linklayer.NewParser(li)
			rd.parsers[lt] = parser
			rd.seen = append(rd.seen, lt)
		}
	}
	rd.fill(data, ci.Timestamp, ci.CaptureLength, ci.Length, parser)
	return &rd.rec, nil
}

// fill sets rd.rec to the next record: frame, captured at ts, decoded with parser.
func (rd *Reader) fill(frame []byte, ts time.Time, capLen, wireLen int, parser *linklayer.Parser) {
	u := parser.Decode(frame)
	if u.Fragment4 != nil || u.Fragment6 != nil {
		u = rd.frags.add(u, ts)
	}
	rd.rec.Frame++
	rd.rec.Time = ts
	rd.rec.CaptureLength, rd.rec.Length = capLen, wireLen
	rd.rec.UDP = u.OK
	rd.rec.Datagram = capture.Datagram{Time: ts, Src: u.Src, Dst: u.Dst, Payload: u.Payload}
	rd.rec.WireLen = u.Length
}

// recordError reports a failure to read packet i (from 0) from the record
// (pcap) or block (pcapng) that started at off.
func (rd *Reader) recordError(what string, i int, off int64, err error) *ReadError {
	s := rd.s
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return s.fail(off, nil, "%s cut off (reading packet %d): the file ends at byte offset %d", what, i+1, s.pos())
	}
	return s.fail(off, err, "bad %s (reading packet %d)", what, i+1)
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
