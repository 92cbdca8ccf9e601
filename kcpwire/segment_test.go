package kcpwire

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSegmentWireLayout(t *testing.T) {
	t.Parallel()
	s := Segment{Conv: 0x04030201, Cmd: CmdPush, Frg: 5, Wnd: 0x0706, Ts: 0x0b0a0908, Sn: 0x0f0e0d0c, Una: 0x13121110, Len: 999, Data: []byte("hi")}
	want := []byte{
		0x01, 0x02, 0x03, 0x04, // conv
		81, 5, 0x06, 0x07, // cmd frg wnd
		0x08, 0x09, 0x0a, 0x0b, // ts
		0x0c, 0x0d, 0x0e, 0x0f, // sn
		0x10, 0x11, 0x12, 0x13, // una
		2, 0, 0, 0, // len: len(Data), not Len
		'h', 'i',
	}
	got := s.AppendTo([]byte{})
	require.Equal(t, want, got)
	assert.Equal(t, len(want), s.EncodedLen())

	var d Segment
	require.NoError(t, d.DecodeFromBytes(want))
	s.Len = 2
	assert.Equal(t, s, d)
}

func TestSegmentRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		seg  Segment
	}{
		{"push", seg(CmdPush, 0, 0, "handshake")},
		{"ack", seg(CmdAck, 7, 8, "")},
		{"wask", seg(CmdWask, 0, 3, "")},
		{"wins", seg(CmdWins, 0, 3, "")},
		{"max fields", Segment{Conv: ^uint32(0), Cmd: CmdPush, Frg: 255, Wnd: 65535, Ts: ^uint32(0), Sn: ^uint32(0), Una: ^uint32(0), Len: 1, Data: []byte{0xff}}},
		{"mss", seg(CmdPush, 1, 1, string(make([]byte, 1376)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := tt.seg.AppendTo(nil)
			var got Segment
			require.NoError(t, got.DecodeFromBytes(b))
			assert.Equal(t, tt.seg, got)
			assert.Equal(t, b, got.AppendTo(nil))
		})
	}
}

func TestSegmentDecodeErrors(t *testing.T) {
	t.Parallel()
	good := plainBytes(seg(CmdPush, 0, 0, "0123456789ab"))
	badCmd := append([]byte(nil), good...)
	badCmd[4] = 7
	longLen := append([]byte(nil), good...)
	longLen[20] = 100
	tests := []struct {
		name   string
		in     []byte
		off    int
		field  string
		reason string
	}{
		{"empty", nil, 0, "header", "need 24 bytes, have 0"},
		{"short header", good[:23], 0, "header", "need 24 bytes, have 23"},
		{"unknown cmd", badCmd, 4, "cmd", "unknown command 7 (want 81..84)"},
		{"len past end", longLen, 20, "len", "100 bytes past end of datagram (have 12)"},
		{"data truncated", good[:30], 20, "len", "12 bytes past end of datagram (have 6)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s Segment
			err := s.DecodeFromBytes(tt.in)
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, DecodeError{Offset: tt.off, Field: tt.field, Reason: tt.reason}, *de)
			assert.Equal(t, Segment{}, s, "segment untouched on error")
		})
	}
}

func TestSegmentIgnoresTrailingBytesAndAliases(t *testing.T) {
	t.Parallel()
	b := append(plainBytes(seg(CmdPush, 1, 0, "abc")), "tail"...)
	var s Segment
	require.NoError(t, s.DecodeFromBytes(b))
	assert.Equal(t, []byte("abc"), s.Data)
	assert.Equal(t, 3, cap(s.Data), "Data capacity ends with the segment")
	b[HeaderLen] = 'X'
	assert.Equal(t, []byte("Xbc"), s.Data, "Data aliases the buffer")
}

func TestDecodeSegments(t *testing.T) {
	t.Parallel()
	a, p, w := seg(CmdAck, 3, 4, ""), seg(CmdPush, 4, 4, "data"), seg(CmdWins, 0, 4, "")
	two := plainBytes(a, p)
	badSecond := plainBytes(a, p)
	badSecond[HeaderLen+offCmd] = 0
	tests := []struct {
		name  string
		in    []byte
		want  []Segment
		off   int
		field string
	}{
		{"empty", nil, []Segment{}, -1, ""},
		{"one", plainBytes(p), []Segment{p}, -1, ""},
		{"three", plainBytes(a, w, p), []Segment{a, w, p}, -1, ""},
		{"trailing bytes", append(two, 1, 2, 3, 4, 5), []Segment{a, p}, len(two), "header"},
		{"second cmd bad", badSecond, []Segment{a}, HeaderLen + offCmd, "cmd"},
		{"second len past end", two[:len(two)-1], []Segment{a}, HeaderLen + offLen, "len"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dst := make([]Segment, 5) // stale content must be dropped
			got, err := DecodeSegments(tt.in, dst)
			if tt.off < 0 {
				require.NoError(t, err)
			} else {
				var de *DecodeError
				require.ErrorAs(t, err, &de)
				assert.Equal(t, tt.off, de.Offset)
				assert.Equal(t, tt.field, de.Field)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// Not parallel: testing.AllocsPerRun refuses parallel tests.
func TestDecodeSegmentsReusesDst(t *testing.T) {
	b := plainBytes(seg(CmdAck, 1, 2, ""), seg(CmdAck, 2, 3, ""), seg(CmdPush, 9, 3, "xyz"))
	dst := make([]Segment, 0, 4)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		dst, err = DecodeSegments(b, dst)
		if err != nil || len(dst) != 3 {
			panic("decode failed")
		}
	})
	assert.Zero(t, allocs)
}

func TestSegmentString(t *testing.T) {
	t.Parallel()
	s := Segment{Conv: 0x1a2b3c4d, Cmd: CmdPush, Wnd: 32, Len: 9}
	assert.Equal(t, "PUSH conv=0x1a2b3c4d sn=0 una=0 frg=0 wnd=32 ts=0 len=9", s.String())
	s = Segment{Conv: 1, Cmd: 9, Frg: 2, Wnd: 3, Ts: 4, Sn: 5, Una: 6}
	assert.Equal(t, "CMD(9) conv=0x00000001 sn=5 una=6 frg=2 wnd=3 ts=4 len=0", s.String())
}
