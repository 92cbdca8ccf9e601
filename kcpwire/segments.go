package kcpwire

import "encoding/binary"

// DecodeSegments decodes all segments back to back in b, appended to dst[:0].
// Empty b gives no segments and no error. On error the result holds the
// segments decoded before the fault; errors are *DecodeError with offsets
// relative to b.
func DecodeSegments(b []byte, dst []Segment) ([]Segment, error) {
	segs, f := parseSegments(b, 0, dst[:0])
	return segs, f.err()
}

// parseSegments appends the segments of b to dst; base is the offset of b in
// the payload. It never allocates once dst has the capacity.
func parseSegments(b []byte, base int, dst []Segment) ([]Segment, fault) {
	off := 0
	for off < len(b) {
		rest := b[off:]
		if off > 0 && len(rest) < HeaderLen {
			return dst, fault{kind: faultTrailing, off: base + off, a: uint64(len(rest))}
		}
		dst = append(dst, Segment{})
		if f := decodeSegment(&dst[len(dst)-1], rest, base+off); !f.ok() {
			return dst[:len(dst)-1], f
		}
		off += HeaderLen + int(dst[len(dst)-1].Len)
	}
	return dst, fault{}
}

// chainOK reports whether b is one or more well-formed segments whose
// lengths chain exactly to the end of b. It does not allocate.
func chainOK(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for len(b) > 0 {
		if len(b) < HeaderLen || !Cmd(b[offCmd]).Valid() {
			return false
		}
		n := binary.LittleEndian.Uint32(b[offLen:])
		if uint64(n) > uint64(len(b)-HeaderLen) {
			return false
		}
		b = b[HeaderLen+int(n):]
	}
	return true
}
