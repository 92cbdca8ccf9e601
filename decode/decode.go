// Package decode prints the KCP segments of pcap and pcapng files (`kcplab decode`): one text line
// or JSON object per segment, with Wireshark's frame numbers and, with Analyze, the sequence analysis
// (retransmissions, the PUSH each ACK acknowledges, spurious retransmissions), or a summary per
// conversation (summary.go).
// It reads with pcapfile and decodes with kcpwire, one record at a time, without allocating per
// record (the summary and the analysis allocate per conversation and per PUSH sn).
package decode

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"kcplab/internal/kcpseq"
	"kcplab/kcpwire"
	"kcplab/pcapfile"
)

// Ports is a set of UDP ports, usable as a repeatable flag ("8080,9000").
type Ports struct {
	bits [65536 / 64]uint64
	n    int
}

// Has reports whether p is in the set.
func (s *Ports) Has(p uint16) bool { return s.bits[p/64]&(1<<(p%64)) != 0 }

// String lists the ports, comma-separated.
func (s *Ports) String() string {
	if s == nil {
		return ""
	}
	var parts []string
	for p := range 65536 {
		if s.Has(uint16(p)) {
			parts = append(parts, strconv.Itoa(p))
		}
	}
	return strings.Join(parts, ",")
}

// Set adds the comma-separated ports of v.
func (s *Ports) Set(v string) error {
	for f := range strings.SplitSeq(v, ",") {
		p, err := strconv.ParseUint(strings.TrimSpace(f), 10, 16)
		if err != nil || p == 0 {
			return fmt.Errorf("%q is not a UDP port (1..65535)", f)
		}
		s.bits[p/64] |= 1 << (p % 64)
		s.n++
	}
	return nil
}

// outFlush is how much output the decoder collects before writing it.
const outFlush = 256 << 10

// Options say what a Decoder prints.
type Options struct {
	// Framing is the framing of the UDP payloads: auto (plain or FEC, on evidence), plain, fec or
	// encrypted.
	Framing kcpwire.Framing
	// JSON prints one JSON object per segment (per datagram when it has none) instead of text lines.
	JSON bool
	// Port, when not 0, keeps only the datagrams to or from this UDP port.
	Port uint16
	// EncryptedPorts carry KCP in any framing: with framing auto, a datagram to or from one is plain
	// or FEC when it decodes as such, else encrypted. Nil: none.
	EncryptedPorts *Ports
	// Named prints "# FILE" before each file's text lines (for several files).
	Named bool
	// Summary prints, instead of the segments, one block (JSON: one object) per KCP conversation of
	// each file: what each direction sent and what the other never acknowledged (see summary.go).
	Summary bool
	// Analyze marks each segment as the Wireshark dissector's sequence analysis does: a PUSH whose sn
	// its conversation sent before names the frame that first sent it, and an ACK names the frame of
	// the PUSH transmission it acknowledges (the latest whose ts it echoes; none when no transmission
	// in the capture carried it), the time since, and how many transmissions sent after that one it
	// showed spurious; a PUSH sent after such an ACK is spurious itself. It keeps each conversation's
	// PUSH transmissions, as Summary does.
	Analyze bool
}

// Decoder prints the KCP decoding of capture files, one record at a time,
// into an output buffer (written out every outFlush bytes, and by Flush)
// without allocating per record.
type Decoder struct {
	w        io.Writer
	out      []byte // pending output; lines are appended in place
	werr     error  // first write error; later output is dropped
	framing  kcpwire.Framing
	json     bool
	port     uint16
	encPorts *Ports
	multi    bool
	summary  bool
	analyze  bool
	sum      summary // per file, with summary or analyze

	det       kcpwire.Detector // per file
	d         kcpwire.Datagram
	fileJSON  []byte // the file name as a JSON string
	t0        time.Time
	haveT0    bool
	datagrams int // UDP datagrams so far in this file
	shown     int // datagrams of them printed (of the selected port)
	packets   int // records so far in this file
	linkType  string
	pre       []byte
}

// Counts say what the last file held, for a note when nothing of it was printed.
type Counts struct {
	Packets   int    // packet records read
	Datagrams int    // UDP datagrams among them
	Shown     int    // datagrams printed: those to or from the selected port
	LinkType  string // the file's link type(s)
}

// Counts returns what the last file given to File held, as far as it was read.
func (dc *Decoder) Counts() Counts {
	return Counts{Packets: dc.packets, Datagrams: dc.datagrams, Shown: dc.shown, LinkType: dc.linkType}
}

// New returns a Decoder that prints to w.
func New(w io.Writer, o Options) *Decoder {
	enc := o.EncryptedPorts
	if enc == nil {
		enc = &Ports{}
	}
	return &Decoder{w: w, out: make([]byte, 0, outFlush+64<<10), framing: o.Framing, json: o.JSON, port: o.Port,
		encPorts: enc, multi: o.Named, summary: o.Summary, analyze: o.Analyze}
}

// commit takes b, dc.out with lines appended, as the pending output and
// writes it out once it holds outFlush bytes.
func (dc *Decoder) commit(b []byte) {
	dc.out = b
	if len(b) >= outFlush {
		_ = dc.Flush()
	}
}

// Flush writes the pending output and returns the first write error.
func (dc *Decoder) Flush() error {
	if len(dc.out) > 0 && dc.werr == nil {
		_, dc.werr = dc.w.Write(dc.out)
	}
	dc.out = dc.out[:0]
	return dc.werr
}

// File prints every record of the file at path and returns the error
// that stopped the reading, if any (after printing what came before it).
// The output may wait in the buffer until Flush.
func (dc *Decoder) File(path string) (err error) {
	dc.datagrams, dc.shown, dc.packets, dc.linkType = 0, 0, 0, ""
	rd, closer, err := pcapfile.Open(path)
	if err != nil {
		return err
	}
	defer closer.Close()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: internal error decoding the file: %v", path, p)
		}
	}()
	dc.det = kcpwire.Detector{}
	dc.fileJSON = appendJSONString(dc.fileJSON[:0], path)
	dc.haveT0 = false
	defer func() { dc.linkType = rd.LinkType() }()
	if dc.summary || dc.analyze {
		dc.sum.reset()
	}
	if dc.summary {
		defer dc.printSummary(path)
	}
	if dc.multi && !dc.json {
		b := append(dc.out, "# "...)
		b = append(b, path...)
		dc.commit(append(b, '\n'))
	}
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		dc.record(rec)
	}
}

// record prints one record: nothing unless it is a UDP datagram (of the
// selected port).
func (dc *Decoder) record(rec *pcapfile.Record) {
	if !dc.haveT0 {
		dc.t0, dc.haveT0 = rec.Time, true
	}
	dc.packets++
	if !rec.UDP {
		return
	}
	dc.datagrams++
	dg := &rec.Datagram
	sp, dp := dg.Src.Port(), dg.Dst.Port()
	if dc.port != 0 && sp != dc.port && dp != dc.port {
		return
	}
	dc.shown++
	var err error
	switch {
	case dc.framing == kcpwire.FramingAuto && dc.encPorts.n > 0 && (dc.encPorts.Has(sp) || dc.encPorts.Has(dp)):
		err = dc.det.DecodeOnPort(&dc.d, dg.Payload, rec.WireLen)
	default:
		err = dc.det.Decode(&dc.d, dg.Payload, rec.WireLen, dg.Src, dg.Dst, dc.framing)
	}
	t := rec.Time.Sub(dc.t0)
	switch {
	case dc.summary && err != nil:
		dc.sum.undecoded++
	case dc.summary:
		dc.sum.add(rec.Frame, t, dg.Src, dg.Dst, &dc.d)
	default:
		var marks []kcpseq.Mark
		if dc.analyze && err == nil {
			marks = dc.sum.add(rec.Frame, t, dg.Src, dg.Dst, &dc.d)
		}
		if dc.json {
			dc.jsonRecord(rec, t, err, marks)
		} else {
			dc.textRecord(rec, t, err, marks)
		}
	}
}

// markAt returns the sequence analysis of segment i among marks (none without analyze).
func markAt(marks []kcpseq.Mark, i int) kcpseq.Mark {
	if i < len(marks) {
		return marks[i]
	}
	return kcpseq.Mark{}
}

// printSummary prints the summary of the file at path, as far as it was read.
func (dc *Decoder) printSummary(path string) {
	if dc.json {
		dc.commit(dc.sum.appendJSON(dc.out, path))
	} else {
		dc.commit(dc.sum.appendText(dc.out))
	}
}

// textRecord prints the text lines of one datagram: one per segment, else one; marks are its
// segments' sequence analysis (nil: none).
func (dc *Decoder) textRecord(rec *pcapfile.Record, t time.Duration, err error, marks []kcpseq.Mark) {
	d := &dc.d
	dg := &rec.Datagram
	var tmp [64]byte
	pre := appendRight(dc.pre[:0], strconv.AppendInt(tmp[:0], int64(rec.Frame), 10), 7)
	pre = append(pre, ' ')
	pre = appendRight(pre, appendSeconds(tmp[:0], t), 10)
	pre = append(pre, ' ')
	pre = appendRight(pre, dg.Src.AppendTo(tmp[:0]), 21)
	pre = append(pre, " → "...)
	mark := len(pre)
	pre = dg.Dst.AppendTo(pre)
	if n := len(pre) - mark; n < 21 {
		pre = append(pre, spaces[:21-n]...)
	}
	pre = append(pre, ' ')
	dc.pre = pre

	if d.Truncated {
		b := append(dc.out, pre...)
		b = append(b, "truncated (captured "...)
		b = strconv.AppendInt(b, int64(len(dg.Payload)), 10)
		b = append(b, " of "...)
		b = strconv.AppendInt(b, int64(d.WireLen), 10)
		b = append(b, " bytes)"...)
		if err != nil {
			b = append(b, ", "...)
			b = appendProblem(b, d, err)
		}
		b = append(b, '\n')
		dc.commit(b)
		if err != nil {
			return
		}
	} else if err != nil {
		b := append(dc.out, pre...)
		dc.commit(appendSize(appendProblem(b, d, err), len(dg.Payload)))
		return
	}
	switch {
	case d.Framing == kcpwire.FramingEncrypted:
		b := append(dc.out, pre...)
		dc.commit(appendSize(append(b, "encrypted"...), d.WireLen))
		return
	case d.Framing == kcpwire.FramingFEC && d.FEC.Type != kcpwire.ShardData:
		b := append(dc.out, pre...)
		b = append(b, "FEC "...)
		b = append(b, d.FEC.Type.String()...)
		b = appendField(b, " seq=", uint64(d.FEC.SeqID))
		b = appendField(b, " size=", uint64(d.FEC.Size))
		if conv, ok := d.OOBConv(); ok {
			b = appendField(b, " conv=", uint64(conv))
		}
		dc.commit(appendSize(b, d.WireLen))
		return
	}
	for i := range d.Segments {
		s := &d.Segments[i]
		b := append(dc.out, pre...)
		name := s.Cmd.String()
		b = append(b, name...)
		b = append(b, spaces[:max(0, 4-len(name))]...)
		b = appendField(b, " conv=", uint64(s.Conv))
		b = appendField(b, " sn=", uint64(s.Sn))
		b = appendField(b, " una=", uint64(s.Una))
		b = appendField(b, " frg=", uint64(s.Frg))
		b = appendField(b, " wnd=", uint64(s.Wnd))
		b = appendField(b, " ts=", uint64(s.Ts))
		b = appendField(b, " len=", uint64(s.Len))
		if d.Framing == kcpwire.FramingFEC {
			b = appendField(b, " (FEC data seq=", uint64(d.FEC.SeqID))
			b = append(b, ')')
		}
		switch m := markAt(marks, i); {
		case m.FirstFrame > 0:
			b = appendField(b, " [retransmission of frame ", uint64(m.FirstFrame))
			if m.Spurious > 0 {
				b = append(b, ", spurious"...)
			}
			b = append(b, ']')
		case m.AcksFrame > 0:
			b = appendField(b, " [acks frame ", uint64(m.AcksFrame))
			b = append(b, " after "...)
			b = strconv.AppendFloat(b, m.AckDelay.Seconds()*1000, 'f', 3, 64)
			b = append(b, " ms"...)
			if m.Spurious > 0 {
				b = appendField(b, "; spurious retransmissions: ", uint64(m.Spurious))
			}
			b = append(b, ']')
		}
		b = append(b, '\n')
		dc.commit(b)
	}
}

// appendSize ends a text line with a datagram's size: " (N bytes)".
func appendSize(b []byte, n int) []byte {
	b = append(b, " ("...)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, " bytes)\n"...)
}

// appendField appends a field's text ahead of its value (" sn=", `,"sn":`) and the value in decimal.
func appendField(b []byte, name string, v uint64) []byte {
	return strconv.AppendUint(append(b, name...), v, 10)
}

// appendProblem appends why a datagram was not decoded: "not KCP" when
// framing auto found no evidence, else "malformed FRAMING: ERROR".
func appendProblem(b []byte, d *kcpwire.Datagram, err error) []byte {
	if d.Framing == kcpwire.FramingAuto {
		return append(b, "not KCP"...)
	}
	b = append(b, "malformed "...)
	b = append(b, d.Framing.String()...)
	b = append(b, ": "...)
	return append(b, err.Error()...)
}

// jsonRecord prints the JSON objects of one datagram: one per segment, else one; marks are its
// segments' sequence analysis (nil: none).
func (dc *Decoder) jsonRecord(rec *pcapfile.Record, t time.Duration, err error, marks []kcpseq.Mark) {
	d := &dc.d
	dg := &rec.Datagram
	pre := append(dc.pre[:0], `{"file":`...)
	pre = append(pre, dc.fileJSON...)
	pre = append(pre, `,"frame":`...)
	pre = strconv.AppendInt(pre, int64(rec.Frame), 10)
	pre = append(pre, `,"datagram":`...)
	pre = strconv.AppendInt(pre, int64(dc.datagrams), 10)
	pre = append(pre, `,"t":`...)
	pre = appendSeconds(pre, t)
	pre = append(pre, `,"src":"`...)
	pre = dg.Src.AppendTo(pre)
	pre = append(pre, `","dst":"`...)
	pre = dg.Dst.AppendTo(pre)
	pre = append(pre, `","bytes":`...)
	pre = strconv.AppendInt(pre, int64(d.WireLen), 10)
	pre = append(pre, `,"truncated":`...)
	pre = strconv.AppendBool(pre, d.Truncated)
	if d.Truncated {
		pre = append(pre, `,"captured":`...)
		pre = strconv.AppendInt(pre, int64(len(dg.Payload)), 10)
	}
	pre = append(pre, `,"framing":"`...)
	if err != nil && d.Framing == kcpwire.FramingAuto {
		pre = append(pre, `none"`...)
	} else {
		pre = append(pre, d.Framing.String()...)
		pre = append(pre, '"')
	}
	if d.Framing == kcpwire.FramingFEC && err == nil {
		pre = appendField(pre, `,"fec":{"seqid":`, uint64(d.FEC.SeqID))
		pre = append(pre, `,"type":"`...)
		pre = append(pre, d.FEC.Type.String()...)
		pre = appendField(pre, `","size":`, uint64(d.FEC.Size))
		pre = append(pre, '}')
		if conv, ok := d.OOBConv(); ok {
			pre = appendField(pre, `,"oob_conv":`, uint64(conv))
		}
	}
	dc.pre = pre
	if err != nil {
		b := append(dc.out, pre...)
		b = append(b, `,"error":`...)
		if d.Framing == kcpwire.FramingAuto {
			b = appendJSONString(b, "not KCP")
		} else {
			b = appendJSONString(b, err.Error())
		}
		b = append(b, "}\n"...)
		dc.commit(b)
		return
	}
	if len(d.Segments) == 0 {
		b := append(dc.out, pre...)
		b = append(b, "}\n"...)
		dc.commit(b)
		return
	}
	for i := range d.Segments {
		s := &d.Segments[i]
		b := append(dc.out, pre...)
		b = appendField(b, `,"conv":`, uint64(s.Conv))
		b = append(b, `,"cmd":"`...)
		b = append(b, s.Cmd.String()...)
		b = appendField(b, `","cmd_num":`, uint64(s.Cmd))
		b = appendField(b, `,"frg":`, uint64(s.Frg))
		b = appendField(b, `,"wnd":`, uint64(s.Wnd))
		b = appendField(b, `,"ts":`, uint64(s.Ts))
		b = appendField(b, `,"sn":`, uint64(s.Sn))
		b = appendField(b, `,"una":`, uint64(s.Una))
		b = appendField(b, `,"len":`, uint64(s.Len))
		if len(s.Data) < int(s.Len) {
			b = append(b, `,"data_captured":`...)
			b = strconv.AppendInt(b, int64(len(s.Data)), 10)
		}
		switch m := markAt(marks, i); {
		case m.FirstFrame > 0:
			b = appendField(b, `,"retransmission_of":`, uint64(m.FirstFrame))
			if m.Spurious > 0 {
				b = append(b, `,"spurious":1`...)
			}
		case m.AcksFrame > 0:
			b = appendField(b, `,"acks_frame":`, uint64(m.AcksFrame))
			b = append(b, `,"ack_delay_ms":`...)
			b = strconv.AppendFloat(b, m.AckDelay.Seconds()*1000, 'f', 3, 64)
			if m.Spurious > 0 {
				b = appendField(b, `,"spurious":`, uint64(m.Spurious))
			}
		}
		b = append(b, "}\n"...)
		dc.commit(b)
	}
}

// spaces pads text columns.
const spaces = "                              "

// appendSeconds appends d in seconds with six decimals, rounded to the
// microsecond (like strconv.AppendFloat(b, d.Seconds(), 'f', 6, 64), faster).
func appendSeconds(b []byte, d time.Duration) []byte {
	if d < 0 {
		b = append(b, '-')
		d = -d
	}
	us := (d + 500*time.Nanosecond) / time.Microsecond
	b = strconv.AppendInt(b, int64(us/1e6), 10)
	frac := int64(us % 1e6)
	b = append(b, '.', byte('0'+frac/100000), byte('0'+frac/10000%10), byte('0'+frac/1000%10),
		byte('0'+frac/100%10), byte('0'+frac/10%10), byte('0'+frac%10))
	return b
}

// appendRight appends s right-aligned in width columns.
func appendRight(b, s []byte, width int) []byte {
	if n := len(s); n < width {
		b = append(b, spaces[:width-n]...)
	}
	return append(b, s...)
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
