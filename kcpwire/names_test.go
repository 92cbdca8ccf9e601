package kcpwire

import (
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNames: a cmd or a shard type prints its name, or its number when it has none, and is valid
// exactly when it has a name.
func TestNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v interface {
			String() string
			Valid() bool
		}
		s     string
		valid bool
	}{
		{CmdPush, "PUSH", true}, {CmdAck, "ACK", true}, {CmdWask, "WASK", true}, {CmdWins, "WINS", true},
		{Cmd(0), "CMD(0)", false}, {Cmd(80), "CMD(80)", false}, {Cmd(85), "CMD(85)", false}, {Cmd(0xf1), "CMD(241)", false},
		{ShardData, "data", true}, {ShardParity, "parity", true}, {ShardOOB, "oob", true},
		{ShardType(0xf0), "shard(0x00f0)", false}, {ShardType(0x01f1), "shard(0x01f1)", false},
	}
	for _, tt := range tests {
		t.Run(tt.s, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.s, tt.v.String())
			assert.Equal(t, tt.valid, tt.v.Valid())
		})
	}
}

func TestFramingNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Framing
		err  string
	}{
		{"auto", FramingAuto, ""},
		{"plain", FramingPlain, ""},
		{"fec", FramingFEC, ""},
		{"encrypted", FramingEncrypted, ""},
		{"crypt", FramingEncrypted, ""},
		{" FEC ", FramingFEC, ""},
		{"Crypt", FramingEncrypted, ""},
		{"", 0, `kcpwire: unknown framing "" (want auto, plain, fec, encrypted or crypt)`},
		{"aes", 0, `kcpwire: unknown framing "aes" (want auto, plain, fec, encrypted or crypt)`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseFraming(tt.in)
			if tt.err != "" {
				require.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			back, err := ParseFraming(got.String())
			require.NoError(t, err)
			assert.Equal(t, got, back)
		})
	}
	assert.Equal(t, "framing(9)", Framing(9).String())
}

func TestFramingFlagAndText(t *testing.T) {
	t.Parallel()
	var f Framing
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(&f, "framing", "framing")
	require.NoError(t, fs.Parse([]string{"-framing", "fec"}))
	assert.Equal(t, FramingFEC, f)
	require.Error(t, fs.Parse([]string{"-framing", "nope"}))
	assert.Equal(t, FramingFEC, f, "unchanged on error")

	require.NoError(t, f.UnmarshalText([]byte("crypt")))
	txt, err := f.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "encrypted", string(txt))
}

func TestFECHeader(t *testing.T) {
	t.Parallel()
	h := FECHeader{SeqID: 0x04030201, Type: ShardParity, Size: 0x0605}
	b := h.AppendTo(nil)
	require.Equal(t, []byte{1, 2, 3, 4, 0xf2, 0, 5, 6}, b)
	var got FECHeader
	require.NoError(t, got.DecodeFromBytes(b))
	assert.Equal(t, h, got)
	assert.Equal(t, "fec parity seqid=67305985 size=1541", got.String())

	tests := []struct {
		name  string
		in    []byte
		off   int
		field string
	}{
		{"short", b[:7], 0, "fec header"},
		{"type high byte", []byte{1, 2, 3, 4, 0xf1, 1, 0, 0}, 4, "fec type"},
		{"unknown type", []byte{1, 2, 3, 4, 0xf4, 0, 0, 0}, 4, "fec type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var h FECHeader
			var de *DecodeError
			require.ErrorAs(t, h.DecodeFromBytes(tt.in), &de)
			assert.Equal(t, tt.off, de.Offset)
			assert.Equal(t, tt.field, de.Field)
		})
	}
}
