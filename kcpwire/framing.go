package kcpwire

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Framing is how kcp-go wraps segments in a UDP payload.
type Framing uint8

// The framings of kcp-go traffic.
const (
	FramingAuto      Framing = iota // decide per datagram with Guess
	FramingPlain                    // segments at payload offset 0 (Dial/Listen)
	FramingFEC                      // 8-byte FEC header, then segments (data shards)
	FramingEncrypted                // nonce (+ CRC32 or tag) and ciphertext: opaque
)

// framingNames are the framings' names, by value.
var framingNames = [...]string{FramingAuto: "auto", FramingPlain: "plain", FramingFEC: "fec", FramingEncrypted: "encrypted"}

// String returns "auto", "plain", "fec", "encrypted", or "framing(n)".
func (f Framing) String() string {
	if int(f) < len(framingNames) {
		return framingNames[f]
	}
	return "framing(" + strconv.Itoa(int(f)) + ")"
}

// ParseFraming parses "auto", "plain", "fec", "encrypted" or "crypt"
// (case-insensitive); the error names the bad value.
func ParseFraming(s string) (Framing, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	if name == "crypt" {
		return FramingEncrypted, nil
	}
	if i := slices.Index(framingNames[:], name); i >= 0 {
		return Framing(i), nil
	}
	return FramingAuto, fmt.Errorf("kcpwire: unknown framing %q (want auto, plain, fec, encrypted or crypt)", s)
}

// Set parses s with ParseFraming, so that *Framing is a flag.Value.
func (f *Framing) Set(s string) error {
	v, err := ParseFraming(s)
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// UnmarshalText parses text with ParseFraming (encoding.TextUnmarshaler).
func (f *Framing) UnmarshalText(text []byte) error { return f.Set(string(text)) }

// MarshalText returns String() (encoding.TextMarshaler).
func (f Framing) MarshalText() ([]byte, error) { return []byte(f.String()), nil }
