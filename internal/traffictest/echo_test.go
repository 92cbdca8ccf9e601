package traffictest

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
)

// script is an io.ReadWriter that returns its reads one by one and keeps what is written.
type script struct {
	reads   [][]byte
	written bytes.Buffer
}

func (s *script) Read(p []byte) (int, error) {
	if len(s.reads) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.reads[0])
	s.reads = s.reads[1:]
	return n, nil
}

func (s *script) Write(p []byte) (int, error) { return s.written.Write(p) }

// TestEcho: every byte read is written back, in the pieces it was read in, up to total; a Read that
// fails first is the error.
func TestEcho(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		reads   []string
		total   int
		written string
		err     string // "" for none
	}{
		{"every byte back, in the reads' pieces", []string{"ab", "cde", "f"}, 6, "abcdef", ""},
		{"stops at total", []string{"ab", "cd", "ef"}, 4, "abcd", ""},
		{"a short stream", []string{"ab"}, 5, "ab", "server read after 2 of 5 bytes: EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &script{}
			for _, r := range tc.reads {
				s.reads = append(s.reads, []byte(r))
			}
			err := Echo(s, tc.total)
			assert.Equal(t, tc.written, s.written.String())
			if tc.err == "" {
				assert.NoError(t, err)
			} else {
				assert.EqualError(t, err, tc.err)
				assert.True(t, errors.Is(err, io.EOF), "the Read's error is wrapped")
			}
		})
	}
}
