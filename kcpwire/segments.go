package kcpwire

// DecodeSegments decodes all segments back to back in b, appended to dst[:0].
// Empty b gives no segments and no error. On error the result holds the
// segments decoded before the fault; errors are *DecodeError with offsets
// relative to b.
func DecodeSegments(b []byte, dst []Segment) ([]Segment, error) {
	segs, f := parseSegments(b, 0, len(b), dst[:0])
	return segs, f.err()
}

// parseSegments appends the segments of b to dst; base is the offset of b in
// the payload and wire the length of b on the wire (>= len(b)). Past the
// captured bytes it stops without fault: a segment whose header was
// captured is appended with the captured part of its data. It never
// allocates once dst has the capacity.
func parseSegments(b []byte, base, wire int, dst []Segment) ([]Segment, fault) {
	off := 0
	for off < wire {
		if wire-off < HeaderLen {
			if off > 0 {
				return dst, fault{kind: faultTrailing, off: base + off, a: uint64(wire - off)}
			}
			return dst, fault{kind: faultHeader, off: base, a: uint64(wire)}
		}
		if off+HeaderLen > len(b) {
			return dst, fault{} // truncated capture: this header was not captured
		}
		rest := b[off:]
		dst = append(dst, Segment{})
		if f := decodeSegmentWire(&dst[len(dst)-1], rest, base+off, wire-off); !f.ok() {
			return dst[:len(dst)-1], f
		}
		off += HeaderLen + int(dst[len(dst)-1].Len)
	}
	return dst, fault{}
}
