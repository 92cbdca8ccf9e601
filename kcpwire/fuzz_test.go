package kcpwire

import (
	"errors"
	"testing"

	"github.com/gopacket/gopacket"
)

// FuzzDecode decodes arbitrary payloads with every framing (framing % 5; 4
// is invalid). It checks that nothing panics, that errors are *DecodeError
// inside the payload, that auto decoding agrees with Guess, and that every
// successful decode re-encodes to exactly the input. The seed corpus in
// testdata/fuzz/FuzzDecode holds real kcp-go datagrams (see seeds_test.go).
func FuzzDecode(f *testing.F) {
	f.Add(plainBytes(seg(CmdPush, 0, 0, "handshake")), byte(FramingPlain))
	f.Add(fecBytes(1, ShardData, plainBytes(seg(CmdAck, 0, 1, ""))), byte(FramingFEC))
	f.Add(parityBytes(2, 40), byte(FramingAuto))
	f.Add(noise(50), byte(FramingEncrypted))
	f.Fuzz(func(t *testing.T, payload []byte, fr byte) {
		framing := Framing(fr % 5)
		var d Datagram
		err := d.Decode(payload, framing)
		guess := Guess(payload)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is a %T, want *DecodeError", err, err)
			}
			if de.Offset < 0 || de.Offset > len(payload) || de.Field == "" || de.Reason == "" {
				t.Fatalf("bad error %+v for %d bytes", de, len(payload))
			}
			if framing == FramingAuto && guess != FramingAuto {
				t.Fatalf("Guess = %v but Decode(auto) failed: %v", guess, err)
			}
		} else {
			checkDecoded(t, payload, framing, guess, &d)
		}
		// the same payload cut short by a capture: no panic, errors in range
		var c Datagram
		if err := c.DecodeCaptured(payload[:len(payload)/2], len(payload), framing); err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Offset < 0 || de.Offset > len(payload) {
				t.Fatalf("truncated decode: bad error %v", err)
			}
		} else if n := len(payload) / 2; n < len(payload) && !c.Truncated {
			t.Fatalf("truncated decode of %d of %d bytes not flagged", n, len(payload))
		}
		var k KCP
		k.Want = framing
		if err := k.DecodeFromBytes(payload, gopacket.NilDecodeFeedback); err == nil {
			if len(k.LayerContents())+len(k.LayerPayload()) != len(payload) {
				t.Fatalf("contents %d + payload %d != %d", len(k.LayerContents()), len(k.LayerPayload()), len(payload))
			}
		}
	})
}

// checkDecoded checks a successful decode of payload.
func checkDecoded(t *testing.T, payload []byte, framing, guess Framing, d *Datagram) {
	t.Helper()
	switch {
	case d.Framing == FramingAuto:
		t.Fatalf("decoded framing is auto")
	case framing == FramingAuto && d.Framing != guess:
		t.Fatalf("Decode(auto) gave %v, Guess %v", d.Framing, guess)
	case framing != FramingAuto && d.Framing != framing:
		t.Fatalf("Decode(%v) gave %v", framing, d.Framing)
	}
	if guess == FramingPlain || guess == FramingFEC {
		var e Datagram
		if err := e.Decode(payload, guess); err != nil {
			t.Fatalf("Guess = %v but Decode(%v): %v", guess, guess, err)
		}
	}
	enc := d.AppendTo(nil)
	if string(enc) != string(payload) || d.EncodedLen() != len(payload) {
		t.Fatalf("%v datagram re-encodes to %d bytes % x, want %d bytes % x", d.Framing, len(enc), enc, len(payload), payload)
	}
	if d.Framing == FramingPlain {
		segs, err := DecodeSegments(payload, nil)
		if err != nil || len(segs) != len(d.Segments) {
			t.Fatalf("DecodeSegments: %d segments, %v; Decode: %d", len(segs), err, len(d.Segments))
		}
	}
}
