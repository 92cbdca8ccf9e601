package script

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeConn is a net.Conn whose Reads return what reads holds, one entry per Read (then a timeout), and
// which records every call.
type fakeConn struct {
	net.Conn // nil: the methods Run must not call panic
	reads    []readResult
	writeErr error
	calls    []string
}

type readResult struct {
	data string
	err  error
}

func (c *fakeConn) Read(b []byte) (int, error) {
	if len(c.reads) == 0 {
		c.calls = append(c.calls, "Read -> timeout")
		return 0, os.ErrDeadlineExceeded
	}
	r := c.reads[0]
	c.reads = c.reads[1:]
	n := copy(b, r.data)
	c.calls = append(c.calls, fmt.Sprintf("Read %q %v", b[:n], r.err))
	return n, r.err
}

func (c *fakeConn) Write(b []byte) (int, error) {
	c.calls = append(c.calls, fmt.Sprintf("Write %q", b))
	return len(b), c.writeErr
}

func (c *fakeConn) Close() error {
	c.calls = append(c.calls, "Close")
	return nil
}

func (c *fakeConn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		c.calls = append(c.calls, "deadline none")
	} else {
		c.calls = append(c.calls, fmt.Sprintf("deadline %v", time.Until(t).Round(100*time.Millisecond)))
	}
	return nil
}

// TestRun runs scripts on a fake conn and checks the calls they make and the error they end with.
func TestRun(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		script  string
		reads   []readResult
		wErr    error
		calls   []string
		wantErr string // "" for none
		timeout bool   // the role ends with the read's timeout
	}{{
		name:   "p003 server: read until 9 bytes in two Reads, write, close once",
		script: p003Server,
		reads:  []readResult{{"hand", nil}, {"shake", nil}},
		calls:  []string{`Read "hand" <nil>`, `Read "shake" <nil>`, `Write "the response"`, "Close"},
	}, {
		name:    "p003 server: another request fails expect",
		script:  p003Server,
		reads:   []readResult{{"handshook", nil}},
		calls:   []string{`Read "handshook" <nil>`, "Close"},
		wantErr: `expect "handshake", got "handshook"`,
	}, {
		name:    "p003 client: reads until the timeout, which ends the role; closed at the end",
		script:  p003Client,
		reads:   []readResult{{"resp", nil}},
		calls:   []string{`Write "handshake"`, "deadline 1s", `Read "resp" <nil>`, "deadline 1s", "Read -> timeout", "Close"},
		timeout: true,
	}, {
		name:    "p001 server: echo until a Read fails",
		script:  p001Server,
		reads:   []readResult{{"a", nil}, {"bc", nil}, {"", io.EOF}},
		calls:   []string{"deadline 1s", `Read "a" <nil>`, `Write "a"`, "deadline 1s", `Read "bc" <nil>`, `Write "bc"`, "deadline 1s", `Read "" EOF`, "Close"},
		wantErr: "EOF",
	}, {
		name:    "echo: a failing Write ends the role",
		script:  p001Server,
		reads:   []readResult{{"a", nil}},
		wErr:    boom,
		calls:   []string{"deadline 1s", `Read "a" <nil>`, `Write "a"`, "Close"},
		wantErr: "boom",
	}, {
		name: "may_fail: the timeout ends the read, not the role; a later read without deadline clears it",
		script: `{"actions":[{"do":"read","deadline_ms":300,"may_fail":true},{"do":"read","until_bytes":1},` +
			`{"do":"sleep","ms":1},{"do":"flush"},{"do":"close"},{"do":"write","data":"late"}]}`,
		reads: []readResult{{"", os.ErrDeadlineExceeded}, {"x", nil}},
		calls: []string{"deadline 300ms", `Read "" i/o timeout`, "deadline none", `Read "x" <nil>`, "Close", `Write "late"`},
	}, {
		name:    "may_fail with expect: the bytes read before the error are checked",
		script:  `{"actions":[{"do":"read","deadline_ms":300,"may_fail":true,"expect":"ab"}]}`,
		reads:   []readResult{{"a", nil}},
		calls:   []string{"deadline 300ms", `Read "a" <nil>`, "deadline 300ms", "Read -> timeout", "Close"},
		wantErr: `expect "ab", got "a"`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := Parse([]byte(tc.script))
			require.NoError(t, err)
			c := &fakeConn{reads: tc.reads, writeErr: tc.wErr}
			err = s.Run(c)
			assert.Equal(t, tc.calls, c.calls)
			switch {
			case tc.timeout:
				assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
			case tc.wantErr == "":
				assert.NoError(t, err)
			default:
				assert.EqualError(t, err, tc.wantErr)
			}
		})
	}
}

// TestRunOverPipe runs the p003 roles against each other on a net.Pipe: the server reads the request
// and answers; the client reads the answer and then EOF, the server having closed.
func TestRunOverPipe(t *testing.T) {
	t.Parallel()
	srv, err := Parse([]byte(p003Server))
	require.NoError(t, err)
	cli, err := Parse([]byte(`{"actions":[{"do":"write","data":"handshake"},{"do":"read","until_bytes":12,"expect":"the response","deadline_ms":2000},{"do":"read","deadline_ms":2000}]}`))
	require.NoError(t, err)
	a, b := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- srv.Run(a) }()
	assert.ErrorIs(t, cli.Run(b), io.EOF)
	assert.NoError(t, <-done)
}

// TestPaceOverPipe runs a pace client against an echo server on a net.Pipe: every message goes out
// once, in order, carrying its index, and comes back; the role ends after the last echo.
func TestPaceOverPipe(t *testing.T) {
	t.Parallel()
	srv, err := Parse([]byte(`{"actions":[{"do":"echo","deadline_ms":2000}]}`))
	require.NoError(t, err)
	cli, err := Parse([]byte(`{"actions":[{"do":"pace","count":20,"every_ms":1,"size":8,"deadline_ms":2000}]}`))
	require.NoError(t, err)
	a, b := net.Pipe()
	var seen []uint32
	done := make(chan error, 1)
	go func() { done <- srv.Run(&recordConn{Conn: a, seen: &seen}) }()
	require.NoError(t, cli.Run(b))
	assert.ErrorIs(t, <-done, io.EOF)
	want := make([]uint32, 20)
	for i := range want {
		want[i] = uint32(i)
	}
	assert.Equal(t, want, seen)
}

// recordConn records the index at the start of each message it reads.
type recordConn struct {
	net.Conn
	seen *[]uint32
}

func (c *recordConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n >= 4 {
		*c.seen = append(*c.seen, binary.BigEndian.Uint32(p))
	}
	return n, err
}
