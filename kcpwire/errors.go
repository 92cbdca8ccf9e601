package kcpwire

import "fmt"

// DecodeError says what is wrong and where (byte offset in the payload).
//
// Offset is the position of Field in the decoded payload: the first byte of
// a truncated header, the cmd byte, the len field, the FEC size field, and so
// on. Field is one of "header", "cmd", "len", "fec header", "fec type",
// "fec size", "oob conv", "encrypted" or "framing".
type DecodeError struct {
	Offset int    // byte offset of Field in the payload
	Field  string // name of the faulty field
	Reason string // what is wrong with it
}

// Error returns e.g. "kcp: offset 20: len: 100 bytes past end of datagram (have 12)".
func (e *DecodeError) Error() string {
	return fmt.Sprintf("kcp: offset %d: %s: %s", e.Offset, e.Field, e.Reason)
}

// faultKind enumerates the decode faults; see fault.
type faultKind uint8

const (
	faultNone      faultKind = iota
	faultHeader              // a = bytes available
	faultTrailing            // a = bytes left after the last segment
	faultCmd                 // a = cmd byte
	faultLen                 // a = len field, b = bytes available after the header
	faultFECHeader           // a = bytes available
	faultFECType             // a = type field
	faultFECSize             // a = size field, b = expected size
	faultOOBConv             // a = bytes after the FEC header
	faultEncrypted           // a = payload length
	faultNotKCP              // a = payload length
	faultFraming             // a = framing value
)

// fault is a decode error kept as plain values, so that the decoder can
// try, fail and move on without allocating; err turns it into a
// *DecodeError at the API boundary.
type fault struct {
	kind faultKind
	off  int
	a, b uint64
}

// ok reports whether f records no fault.
func (f fault) ok() bool { return f.kind == faultNone }

// err converts f into a *DecodeError (nil when there is no fault).
func (f fault) err() error {
	if f.kind == faultNone {
		return nil
	}
	e := &DecodeError{Offset: f.off}
	switch f.kind {
	case faultHeader:
		e.Field, e.Reason = "header", fmt.Sprintf("need %d bytes, have %d", HeaderLen, f.a)
	case faultTrailing:
		e.Field, e.Reason = "header", fmt.Sprintf("%d trailing bytes, shorter than a %d-byte header", f.a, HeaderLen)
	case faultCmd:
		e.Field, e.Reason = "cmd", fmt.Sprintf("unknown command %d (want %d..%d)", f.a, CmdPush, CmdWins)
	case faultLen:
		e.Field, e.Reason = "len", fmt.Sprintf("%d bytes past end of datagram (have %d)", f.a, f.b)
	case faultFECHeader:
		e.Field, e.Reason = "fec header", fmt.Sprintf("need %d bytes, have %d", FECHeaderLen, f.a)
	case faultFECType:
		e.Field, e.Reason = "fec type", fmt.Sprintf("unknown shard type 0x%04x (want 0xf1, 0xf2 or 0xf3)", f.a)
	case faultFECSize:
		e.Field, e.Reason = "fec size", fmt.Sprintf("%d, want %d (2 + the %d bytes that follow)", f.a, f.b, f.b-2)
	case faultOOBConv:
		e.Field, e.Reason = "oob conv", fmt.Sprintf("need 4 bytes, have %d", f.a)
	case faultEncrypted:
		e.Field, e.Reason = "encrypted", fmt.Sprintf("%d bytes, shorter than the %d-byte minimum of encrypted kcp-go traffic", f.a, MinEncryptedLen)
	case faultNotKCP:
		e.Field, e.Reason = "framing", fmt.Sprintf("not KCP: %d bytes are not a consistent plain or FEC datagram (encrypted KCP needs -framing encrypted or its port named)", f.a)
	case faultFraming:
		e.Field, e.Reason = "framing", fmt.Sprintf("unknown framing %d", f.a)
	default:
		e.Field, e.Reason = "?", fmt.Sprintf("fault %d", f.kind)
	}
	return e
}
