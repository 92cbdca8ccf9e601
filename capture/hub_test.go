package capture

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/internal/traffictest"
)

// payloads returns the payloads of dgs as strings.
func payloads(dgs []Datagram) []string {
	out := make([]string, len(dgs))
	for i, d := range dgs {
		out[i] = string(d.Payload)
	}
	return out
}

func TestHubRoutesByPort(t *testing.T) {
	t.Parallel()
	f, h, a := fakeHubSource(t, 1001, 1002)
	b, err := h.Source(2001, 2002, 2001) // a repeated port counts once
	require.NoError(t, err)
	_, err = h.Source()
	require.ErrorContains(t, err, "at least one port")

	frames := []struct {
		src, dst uint16
		payload  string
	}{
		{1001, 1002, "a1"},
		{2002, 2001, "b1"},
		{1002, 2001, "cross"}, // a port of each: both get it
		{3000, 3001, "other"}, // nobody's port: dropped
		{1001, 1002, "a2"},
	}
	ts := time.Now()
	for i, fr := range frames {
		f.frames <- fakeFrame{ethUDP(t, fr.src, fr.dst, fr.payload), ts.Add(time.Duration(i) * time.Microsecond)}
	}
	f.frames <- fakeFrame{data: []byte{1, 2, 3}, ts: ts} // not UDP: skipped

	tests := []struct {
		name string
		src  Source
		want []string
	}{
		{"a", a, []string{"a1", "cross", "a2"}},
		{"b", b, []string{"b1", "cross"}},
	}
	for _, tt := range tests {
		st, err := tt.src.Close()
		require.NoError(t, err, tt.name)
		assert.Equal(t, tt.want, payloads(tt.src.Datagrams()), tt.name)
		assert.Equal(t, Stats{Captured: len(tt.want)}, st, tt.name)
	}
	hs, err := h.Close()
	require.NoError(t, err)
	assert.Equal(t, len(frames)-1, hs.Captured, "all but the frame of nobody's port")
}

func TestHubRegistration(t *testing.T) {
	t.Parallel()
	h := newFakeHub(t, newFakeReader(5*time.Millisecond))
	first, err := h.Source(4000, 4001)
	require.NoError(t, err)
	tests := []struct {
		name    string
		ports   []uint16
		wantErr string
	}{
		{"taken port", []uint16{4001}, "port 4001 is already registered"},
		{"one of several taken", []uint16{4002, 4000}, "port 4000 is already registered"},
		{"port 0", []uint16{0}, "port 0 cannot be registered"},
		{"free after a failed try", []uint16{4002}, ""}, // the failed try above registered nothing
	}
	for _, tt := range tests {
		src, err := h.Source(tt.ports...)
		if tt.wantErr != "" {
			require.Error(t, err, tt.name)
			assert.Contains(t, err.Error(), tt.wantErr, tt.name)
			assert.Nil(t, src, tt.name)
			continue
		}
		require.NoError(t, err, tt.name)
		_, err = src.Close()
		require.NoError(t, err, tt.name)
	}
	_, err = first.Close()
	require.NoError(t, err)
	again, err := h.Source(4000, 4001)
	require.NoError(t, err, "a closed Source's ports are free again")
	_, err = again.Close()
	require.NoError(t, err)
}

// TestHubCloseWaitsForReader holds the reader back while frames of the Source
// wait in the ring and Close starts: Close must return with all of them.
func TestHubCloseWaitsForReader(t *testing.T) {
	t.Parallel()
	f := newFakeReader(5 * time.Millisecond)
	f.gate = make(chan struct{})
	h := newFakeHub(t, f)
	src, err := h.Source(5000, 5001)
	require.NoError(t, err)
	const n = 50
	for i := range n {
		f.frames <- fakeFrame{ethUDP(t, 5000, 5001, fmt.Sprint(i)), time.Now()}
	}
	type result struct {
		st  Stats
		err error
	}
	closed := make(chan result, 1)
	go func() {
		st, err := src.Close()
		closed <- result{st, err}
	}()
	require.Eventually(t, h.bar.active, 5*time.Second, time.Millisecond, "Close waits for the reader")
	close(f.gate)
	var res result
	select {
	case res = <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	require.NoError(t, res.err)
	assert.Equal(t, n, res.st.Captured)
	assert.Len(t, src.Datagrams(), n)
}

// TestHubCatchUp covers the barrier's ways to end: a frame stamped after the
// Close moment, an empty read that started after it, and the time limit.
func TestHubCatchUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		timeout  time.Duration // the fake's read timeout
		traffic  bool          // frames of another port keep coming
		stuck    bool          // reads block past the limit
		limit    time.Duration // how long Close waits for the reader
		wantErr  string
		maxClose time.Duration
	}{
		// Close returns by the barrier, well before the limit.
		{name: "idle: empty read", timeout: 5 * time.Millisecond, limit: testCatchUpLimit, maxClose: testCatchUpLimit / 2},
		{name: "busy: later frame", timeout: time.Hour, traffic: true, limit: testCatchUpLimit, maxClose: testCatchUpLimit / 2},
		{name: "stuck: limit", timeout: time.Hour, stuck: true, limit: 200 * time.Millisecond, wantErr: "did not catch up", maxClose: 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeReader(tt.timeout)
			if tt.stuck {
				f.gate = make(chan struct{}) // never opened
			}
			h := newFakeHub(t, f)
			h.limit = tt.limit
			src, err := h.Source(6000, 6001)
			require.NoError(t, err)
			stop := func() {}
			if tt.traffic {
				frame := ethUDP(t, 7000, 7001, "other trial")
				stop = traffictest.Every(t, time.Millisecond, func() { f.frames <- fakeFrame{frame, time.Now()} })
			}
			start := time.Now()
			_, err = src.Close()
			took := time.Since(start)
			stop()
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Less(t, took, tt.maxClose)
			assert.False(t, h.bar.active(), "no waiter left behind")
		})
	}
}

func TestHubDropsChargedToOpenSources(t *testing.T) {
	t.Parallel()
	f := newFakeReader(5 * time.Millisecond)
	h := newFakeHub(t, f)
	f.addDrops(7) // before any Source: charged to none
	a, err := h.Source(8000)
	require.NoError(t, err)
	f.addDrops(2)
	b, err := h.Source(8001)
	require.NoError(t, err)
	f.addDrops(3)
	stA, err := a.Close()
	require.NoError(t, err)
	f.addDrops(4)
	stB, err := b.Close()
	require.NoError(t, err)
	assert.Equal(t, Stats{Dropped: 5, Received: 5}, stA)
	assert.Equal(t, Stats{Dropped: 7, Received: 7}, stB)
	hs, err := h.Close()
	require.NoError(t, err)
	assert.Equal(t, Stats{Dropped: 16, Received: 16}, hs)
}

func TestHubIgnoresFramesFromBeforeOpen(t *testing.T) {
	t.Parallel()
	f, _, src := fakeHubSource(t, 9000)
	f.frames <- fakeFrame{ethUDP(t, 9000, 9001, "earlier trial"), time.Now().Add(-time.Second)}
	f.frames <- fakeFrame{ethUDP(t, 9000, 9001, "this trial"), time.Now()}
	st, err := src.Close()
	require.NoError(t, err)
	assert.Equal(t, 1, st.Captured)
	assert.Equal(t, []string{"this trial"}, payloads(src.Datagrams()))
}

func TestHubTruncatedDatagram(t *testing.T) {
	t.Parallel()
	f, _, src := fakeHubSource(t, 9100)
	frame := ethUDP(t, 9100, 9101, "a datagram longer than the snap length")
	f.frames <- fakeFrame{frame[:len(frame)-10], time.Now()}
	st, err := src.Close()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "1 datagrams were longer than the snap length")
	assert.Equal(t, 1, st.Captured)
}

func TestHubReaderFailure(t *testing.T) {
	t.Parallel()
	f := newFakeReader(5 * time.Millisecond)
	f.fail = errors.New("device gone")
	h := newFakeHub(t, f)
	select {
	case <-h.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the reader did not stop after repeated errors")
	}
	src, err := h.Source(9200)
	require.Error(t, err)
	assert.Nil(t, src)
	assert.Contains(t, err.Error(), "device gone")
	_, err = h.Close()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "100 read errors in a row")
}

func TestHubClose(t *testing.T) {
	t.Parallel()
	f, h, open := fakeHubSource(t, 9300, 9301)
	f.frames <- fakeFrame{ethUDP(t, 9300, 9301, "before hub close"), time.Now()}
	st1, err := h.Close()
	require.NoError(t, err)
	st2, err := h.Close()
	require.NoError(t, err, "Close is idempotent")
	assert.Equal(t, st1, st2)
	assert.Equal(t, 1, st1.Captured, "Hub.Close waits for the reader: the open Source got its datagram")
	f.mu.Lock()
	assert.True(t, f.closed, "the handle is closed")
	f.mu.Unlock()

	st, err := open.Close()
	require.NoError(t, err, "a Source still open at Hub.Close can be closed")
	assert.Equal(t, 1, st.Captured)
	_, err = h.Source(9400)
	require.ErrorIs(t, err, errHubClosed)
}

func TestHubNotOpened(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		hub  *Hub
	}{
		{"nil", nil},
		{"zero value", &Hub{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src, err := tt.hub.Source(1)
			require.Error(t, err)
			assert.Nil(t, src)
			assert.Contains(t, err.Error(), "use OpenHub")
			st, err := tt.hub.Close()
			require.NoError(t, err)
			assert.Zero(t, st)
		})
	}
}

// TestHubDispatchAllocs checks the reader's per-frame path: decoding and
// routing allocate nothing; only the recorder's payload slab and its slice
// growth do, amortised to well under one allocation per frame.
// The fake delivers no frame, so the Hub's reader never decodes concurrently.
func TestHubDispatchAllocs(t *testing.T) {
	_, h, src := fakeHubSource(t, 9500, 9501)
	other := ethUDP(t, 9600, 9601, "not ours")
	ours := ethUDP(t, 9500, 9501, string(make([]byte, 1376)))
	ts := time.Now()
	assert.Zero(t, testing.AllocsPerRun(1000, func() { h.dispatch(other, ts) }), "a frame of no Source")
	assert.Zero(t, testing.AllocsPerRun(1000, func() { h.dispatch(ours, ts) }), "a recorded frame (amortised)")
	st, err := src.Close()
	require.NoError(t, err)
	assert.Equal(t, 1001, st.Captured) // AllocsPerRun calls once more to warm up
}
