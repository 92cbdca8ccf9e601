package capture

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecorderCopiesPayloads(t *testing.T) {
	t.Parallel()
	sizes := []int{0, 1, 24, 1400, minSlab, minSlab + 1, maxSlab / 4, maxSlab/4 + 1, 65507}
	r := newRecorder()
	t0 := time.Now()
	var originals [][]byte
	for i, n := range sizes {
		p := bytes.Repeat([]byte{byte(i + 1)}, n)
		originals = append(originals, bytes.Clone(p))
		require.True(t, r.add(Datagram{Time: t0.Add(time.Duration(i)), Payload: p}, true))
		for j := range p { // the caller reuses its buffer
			p[j] = 0xff
		}
	}
	dgs := r.snapshot()
	require.Len(t, dgs, len(sizes))
	for i, d := range dgs {
		t.Run(string(rune('a'+i)), func(t *testing.T) {
			assert.Equal(t, len(originals[i]), len(d.Payload))
			assert.True(t, bytes.Equal(originals[i], d.Payload), "payload %d intact", i)
			assert.Equal(t, len(d.Payload), cap(d.Payload), "capacity clipped: appending cannot reach a neighbour")
		})
	}
}

func TestRecorderSortsByTime(t *testing.T) {
	t.Parallel()
	r := newRecorder()
	t0 := time.Now()
	for _, off := range []int{3, 1, 2, 1} {
		r.add(Datagram{Time: t0.Add(time.Duration(off)), Payload: []byte{byte(off)}}, false)
	}
	var got []byte
	for _, d := range r.snapshot() {
		got = append(got, d.Payload[0])
	}
	assert.Equal(t, []byte{1, 1, 2, 3}, got)
	assert.True(t, r.close())
	assert.False(t, r.close())
	assert.False(t, r.add(Datagram{Time: t0}, false), "closed")
	assert.Equal(t, 4, r.len())
}
