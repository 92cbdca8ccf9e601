package kcpwire

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDatagramRoundTrip(t *testing.T) {
	t.Parallel()
	ack, push, wask := seg(CmdAck, 0, 1, ""), seg(CmdPush, 0, 1, "handshake"), seg(CmdWask, 0, 1, "")
	tests := []struct {
		name string
		d    Datagram
	}{
		{"plain push", Datagram{Framing: FramingPlain, Segments: []Segment{push}}},
		{"plain ack+wask+push", Datagram{Framing: FramingPlain, Segments: []Segment{ack, wask, push}}},
		{"fec data", Datagram{Framing: FramingFEC, FEC: FECHeader{SeqID: 7, Type: ShardData, Size: 2 + 33}, Segments: []Segment{push}}},
		{"fec data two segments", Datagram{Framing: FramingFEC, FEC: FECHeader{SeqID: 8, Type: ShardData, Size: 2 + 24 + 33}, Segments: []Segment{ack, push}}},
		{"fec parity", Datagram{Framing: FramingFEC, FEC: FECHeader{SeqID: 10, Type: ShardParity, Size: 0x0706}, Opaque: parityBytes(10, 60)[FECHeaderLen:]}},
		{"fec oob", Datagram{Framing: FramingFEC, FEC: FECHeader{SeqID: OOBSeqID, Type: ShardOOB, Size: 2 + 4 + 3}, Opaque: oobBytes(testConv, "oob")[FECHeaderLen:]}},
		{"encrypted", Datagram{Framing: FramingEncrypted, Opaque: noise(60)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := tt.d.AppendTo(nil)
			require.Equal(t, tt.d.EncodedLen(), len(b))
			framings := []Framing{tt.d.Framing}
			if tt.d.Framing != FramingEncrypted && tt.d.FEC.Type != ShardParity {
				framings = append(framings, FramingAuto) // parity and ciphertext are not evidence of KCP
			}
			for _, f := range framings {
				var got Datagram
				require.NoError(t, got.Decode(b, f), "framing %v", f)
				if len(got.Segments) == 0 {
					got.Segments = nil
				}
				want := tt.d
				want.WireLen = len(b)
				assert.Equal(t, want, got, "framing %v", f)
				assert.Equal(t, b, got.AppendTo(nil))
			}
		})
	}
}

func TestDatagramDecodeErrors(t *testing.T) {
	t.Parallel()
	push := seg(CmdPush, 0, 0, "0123456789ab") // 36 bytes
	one := plainBytes(push)
	two := plainBytes(seg(CmdAck, 0, 1, ""), push)
	longLen := plainBytes(seg(CmdAck, 0, 1, ""), push)
	longLen[HeaderLen+offLen] = 100
	badCmd := plainBytes(push)
	badCmd[offCmd] = 0x50
	fecData := fecBytes(3, ShardData, one)
	fecBadSize := fecBytes(3, ShardData, one)
	fecBadSize[6]++
	fecBadCmd := fecBytes(3, ShardData, badCmd)
	oobShort := fecBytes(OOBSeqID, ShardOOB, []byte{1, 2})

	tests := []struct {
		name   string
		in     []byte
		f      Framing
		off    int
		field  string
		reason string
	}{
		{"plain empty", nil, FramingPlain, 0, "header", "need 24 bytes, have 0"},
		{"plain short", one[:10], FramingPlain, 0, "header", "need 24 bytes, have 10"},
		{"plain unknown cmd", badCmd, FramingPlain, 4, "cmd", "unknown command 80 (want 81..84)"},
		{"plain len past end", longLen, FramingPlain, 44, "len", "100 bytes past end of datagram (have 12)"},
		{"plain trailing bytes", append(append([]byte{}, two...), 0, 0, 0, 0, 0), FramingPlain, 60, "header", "5 trailing bytes, shorter than a 24-byte header"},
		{"plain second truncated", two[:50], FramingPlain, 44, "len", "12 bytes past end of datagram (have 2)"},
		{"fec short header", fecData[:5], FramingFEC, 0, "fec header", "need 8 bytes, have 5"},
		{"fec unknown type", []byte{0, 0, 0, 0, 0x34, 0x12, 2, 0}, FramingFEC, 4, "fec type", "unknown shard type 0x1234 (want 0xf1, 0xf2 or 0xf3)"},
		{"fec plain datagram", one, FramingFEC, 4, "fec type", "unknown shard type 0x0051 (want 0xf1, 0xf2 or 0xf3)"},
		{"fec data bad size", fecBadSize, FramingFEC, 6, "fec size", "39, want 38 (2 + the 36 bytes that follow)"},
		{"fec data no segment", fecBytes(3, ShardData, nil), FramingFEC, 8, "header", "need 24 bytes, have 0"},
		{"fec data bad cmd", fecBadCmd, FramingFEC, 12, "cmd", "unknown command 80 (want 81..84)"},
		{"fec data truncated", fecData[:40], FramingFEC, 6, "fec size", "38, want 34 (2 + the 32 bytes that follow)"},
		{"fec oob no conv", oobShort, FramingFEC, 8, "oob conv", "need 4 bytes, have 2"},
		{"encrypted short", noise(31), FramingEncrypted, 0, "encrypted", "31 bytes, shorter than the 32-byte minimum of encrypted kcp-go traffic"},
		{"auto junk", noise(20), FramingAuto, 0, "framing", "not KCP: 20 bytes are not a consistent plain or FEC datagram (encrypted KCP needs -framing encrypted or its port named)"},
		{"auto empty", nil, FramingAuto, 0, "framing", "not KCP: 0 bytes are not a consistent plain or FEC datagram (encrypted KCP needs -framing encrypted or its port named)"},
		{"auto ciphertext", noise(200), FramingAuto, 0, "framing", "not KCP: 200 bytes are not a consistent plain or FEC datagram (encrypted KCP needs -framing encrypted or its port named)"},
		{"bad framing", one, Framing(9), 0, "framing", "unknown framing 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var d Datagram
			err := d.Decode(tt.in, tt.f)
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, DecodeError{Offset: tt.off, Field: tt.field, Reason: tt.reason}, *de)
			assert.LessOrEqual(t, de.Offset, len(tt.in))
		})
	}
}

func TestDecodeErrorMessage(t *testing.T) {
	t.Parallel()
	in := plainBytes(seg(CmdAck, 0, 1, ""), seg(CmdPush, 0, 0, "0123456789ab"))
	in[HeaderLen+offLen] = 100
	var d Datagram
	err := d.Decode(in, FramingPlain)
	require.EqualError(t, err, "kcp: offset 44: len: 100 bytes past end of datagram (have 12)")
	assert.Len(t, d.Segments, 1, "segments before the fault are kept")
	assert.Equal(t, FramingPlain, d.Framing)
}

func TestDatagramReuse(t *testing.T) {
	t.Parallel()
	var d Datagram
	require.NoError(t, d.Decode(fecBytes(1, ShardData, plainBytes(seg(CmdAck, 1, 0, ""), seg(CmdPush, 1, 0, "x"))), FramingAuto))
	require.Len(t, d.Segments, 2)
	require.NoError(t, d.Decode(noise(40), FramingEncrypted))
	assert.Equal(t, FramingEncrypted, d.Framing)
	assert.Empty(t, d.Segments)
	assert.Equal(t, FECHeader{}, d.FEC, "FEC header cleared")
	require.NoError(t, d.Decode(plainBytes(seg(CmdAck, 1, 1, "")), FramingAuto))
	assert.Nil(t, d.Opaque, "opaque cleared")
	assert.Len(t, d.Segments, 1)
}

// Not parallel: testing.AllocsPerRun refuses parallel tests.
func TestDatagramDecodeDoesNotAllocate(t *testing.T) {
	inputs := map[string][]byte{
		"plain":     plainBytes(seg(CmdAck, 1, 2, ""), seg(CmdPush, 2, 2, "hello")),
		"fec data":  fecBytes(4, ShardData, plainBytes(seg(CmdPush, 2, 2, "hello"))),
		"parity":    parityBytes(9, 80),
		"oob":       oobBytes(testConv, "x"),
		"encrypted": noise(100),
		"junk":      noise(10),
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			d := Datagram{Segments: make([]Segment, 0, 4)}
			allocs := testing.AllocsPerRun(200, func() {
				if f := d.decode(in, len(in), FramingAuto); !f.ok() && f.kind != faultNotKCP {
					panic(f.kind)
				}
			})
			assert.Zero(t, allocs)
		})
	}
}

func TestDatagramString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []byte
		f    Framing
		want string
	}{
		{"plain", plainBytes(seg(CmdAck, 0, 1, ""), seg(CmdPush, 0, 1, "hi")),
			FramingAuto, "plain: ACK conv=0x0a0b0c0d sn=0 una=1 frg=0 wnd=32 ts=1000 len=0 | PUSH conv=0x0a0b0c0d sn=0 una=1 frg=0 wnd=32 ts=1000 len=2"},
		{"fec data", fecBytes(5, ShardData, plainBytes(seg(CmdPush, 1, 1, ""))),
			FramingFEC, "fec data seqid=5 size=26: PUSH conv=0x0a0b0c0d sn=1 una=1 frg=0 wnd=32 ts=1001 len=0"},
		{"parity", parityBytes(6, 40), FramingFEC, "fec parity seqid=6 size=12843: 32 bytes"},
		{"oob", oobBytes(1, "abc"), FramingAuto, "fec oob seqid=4294967295 size=9: 7 bytes"},
		{"encrypted", noise(50), FramingEncrypted, "encrypted: 50 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var d Datagram
			require.NoError(t, d.Decode(tt.in, tt.f))
			assert.Equal(t, tt.want, d.String())
		})
	}
}

func TestOOBConv(t *testing.T) {
	t.Parallel()
	var d Datagram
	require.NoError(t, d.Decode(oobBytes(0xdeadbeef, "payload"), FramingAuto))
	conv, ok := d.OOBConv()
	require.True(t, ok)
	assert.Equal(t, uint32(0xdeadbeef), conv)
	assert.Equal(t, "payload", string(d.Opaque[4:]))

	require.NoError(t, d.Decode(parityBytes(1, 40), FramingFEC))
	_, ok = d.OOBConv()
	assert.False(t, ok)
}
