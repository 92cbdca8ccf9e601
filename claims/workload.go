package claims

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Echo is the interactive workload: Count messages of Size bytes, one every Every, each echoed by
// the server; the client times each message's round trip.
type Echo struct {
	Count int
	Size  int // bytes, at least 4 (the sequence number)
	Every time.Duration
}

// Bulk is the bulk workload: the client sends Bytes, the server answers one byte once it has all of
// them; the client times the whole exchange.
type Bulk struct {
	Bytes int
}

// Workload is Echo or Bulk.
type Workload interface {
	// Name identifies the workload in a case's key: "echo 300x208B/20ms", "bulk 1MB".
	Name() string
	// AppBytes is the application bytes that cross the link, both ways.
	AppBytes() int64
	// Serve runs the server's role on one accepted connection until the client is done.
	Serve(conn net.Conn) error
	// Run runs the client's role and returns what it measured.
	Run(ctx context.Context, conn net.Conn) (Measured, error)
}

// Measured is what the client measured in one case.
type Measured struct {
	RTTs     []time.Duration // Echo: per message, in sequence order; a message never echoed is missing
	Missing  int             // Echo: messages not echoed before the deadline
	Complete time.Duration   // Bulk: from the first byte written to the answer
}

// ServerGrace bounds how long a role waits for a message after the last one was due: long enough for
// a message that needs several retransmissions at a 200 ms RTO and a 400 ms RTT.
const ServerGrace = 15 * time.Second

// Name identifies the workload.
func (e Echo) Name() string {
	return fmt.Sprintf("echo %dx%dB/%s", e.Count, e.Size, e.Every)
}

// AppBytes counts the messages and their echoes.
func (e Echo) AppBytes() int64 { return 2 * int64(e.Count) * int64(e.Size) }

// Serve echoes each message.
func (e Echo) Serve(conn net.Conn) error {
	buf := make([]byte, e.Size)
	for range e.Count {
		if err := conn.SetReadDeadline(time.Now().Add(ServerGrace + e.Every*time.Duration(e.Count))); err != nil {
			return err
		}
		if _, err := io.ReadFull(conn, buf); err != nil {
			return fmt.Errorf("echo server: read: %w", err)
		}
		if _, err := conn.Write(buf); err != nil {
			return fmt.Errorf("echo server: write: %w", err)
		}
	}
	return nil
}

// Run sends the messages on a ticker and reads the echoes as they come.
func (e Echo) Run(ctx context.Context, conn net.Conn) (Measured, error) {
	if e.Size < 4 || e.Count <= 0 || e.Every <= 0 {
		return Measured{}, fmt.Errorf("echo: bad workload %+v", e)
	}
	sent := make([]time.Time, e.Count)
	rtts := make([]time.Duration, e.Count)
	var mu sync.Mutex
	deadline := time.Now().Add(time.Duration(e.Count)*e.Every + ServerGrace)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := conn.SetReadDeadline(deadline); err != nil {
		return Measured{}, err
	}
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()

	werr := make(chan error, 1)
	go func() {
		msg := make([]byte, e.Size)
		t := time.NewTicker(e.Every)
		defer t.Stop()
		for i := range e.Count {
			if i > 0 {
				select {
				case <-t.C:
				case <-ctx.Done():
					werr <- ctx.Err()
					return
				}
			}
			binary.BigEndian.PutUint32(msg, uint32(i))
			mu.Lock()
			sent[i] = time.Now()
			mu.Unlock()
			if _, err := conn.Write(msg); err != nil {
				werr <- fmt.Errorf("echo client: write %d: %w", i, err)
				return
			}
		}
		werr <- nil
	}()

	buf := make([]byte, e.Size)
	got := 0
	var rerr error
	for got < e.Count {
		if _, err := io.ReadFull(conn, buf); err != nil {
			rerr = err
			break
		}
		now := time.Now()
		i := int(binary.BigEndian.Uint32(buf))
		mu.Lock()
		ok := i < e.Count && !sent[i].IsZero() && rtts[i] == 0
		if ok {
			rtts[i] = now.Sub(sent[i])
		}
		mu.Unlock()
		if !ok {
			rerr = fmt.Errorf("echo client: echo of message %d, not sent or echoed twice", i)
			break
		}
		got++
	}
	// The writer ends by itself: every write was made, or a write failed, or ctx ended.
	if err := <-werr; err != nil && rerr == nil {
		rerr = err
	}
	m := Measured{Missing: e.Count - got}
	for _, r := range rtts {
		if r > 0 {
			m.RTTs = append(m.RTTs, r)
		}
	}
	switch {
	case ctx.Err() != nil:
		return m, ctx.Err()
	case rerr != nil && !isTimeout(rerr):
		return m, rerr
	}
	// A read that timed out leaves the messages not echoed as Missing: the case's checks decide.
	return m, nil
}

// Name identifies the workload.
func (b Bulk) Name() string { return fmt.Sprintf("bulk %s", sizeName(b.Bytes)) }

// AppBytes counts the block and the answer.
func (b Bulk) AppBytes() int64 { return int64(b.Bytes) + 1 }

// bulkChunk is the size of the writes (and reads) of a bulk transfer.
const bulkChunk = 16 << 10

// bulkDeadline bounds a bulk transfer.
const bulkDeadline = 120 * time.Second

// Serve reads the block and answers one byte.
func (b Bulk) Serve(conn net.Conn) error {
	if err := conn.SetReadDeadline(time.Now().Add(bulkDeadline)); err != nil {
		return err
	}
	buf := make([]byte, bulkChunk)
	for left := b.Bytes; left > 0; {
		n, err := conn.Read(buf[:min(left, len(buf))])
		left -= n
		if err != nil {
			return fmt.Errorf("bulk server: read with %d bytes to go: %w", left, err)
		}
	}
	_, err := conn.Write([]byte{1})
	return err
}

// Run writes the block and waits for the answer.
func (b Bulk) Run(ctx context.Context, conn net.Conn) (Measured, error) {
	deadline := time.Now().Add(bulkDeadline)
	if err := conn.SetDeadline(deadline); err != nil {
		return Measured{}, err
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	start := time.Now()
	chunk := make([]byte, bulkChunk)
	for left := b.Bytes; left > 0; {
		n, err := conn.Write(chunk[:min(left, len(chunk))])
		left -= n
		if err != nil {
			return Measured{}, fmt.Errorf("bulk client: write with %d bytes to go: %w", left, err)
		}
	}
	if _, err := io.ReadFull(conn, chunk[:1]); err != nil {
		return Measured{}, fmt.Errorf("bulk client: answer: %w", err)
	}
	return Measured{Complete: time.Since(start)}, nil
}

// sizeName renders a byte count as "1MB", "10MB", "64kB" (powers of 1000 below a MB of 2^20: sizes
// here are whole MB or kB).
func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dkB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// isTimeout reports whether err is a deadline.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
