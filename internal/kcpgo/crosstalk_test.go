package kcpgo

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/internal/kcpleak"
)

// TestCrossTalkCounts runs a short CrossTalk: its sessions send, and what it counts is consistent.
// Whether a datagram crosses in so short a run is chance (kcplab crosstalk measures it); the run must
// leave nothing behind. Not parallel: it counts the process's goroutines and file descriptors.
func TestCrossTalkCounts(t *testing.T) {
	kcpleak.LeaksNothing(t)
	res, err := CrossTalk(context.Background(), CrossTalkOptions{Duration: 300 * time.Millisecond, Closers: 2, Steady: 2,
		BurstBytes: 5000, MaxSessions: 200, DrainTimeout: 200 * time.Millisecond})
	require.NoError(t, err)
	assert.Positive(t, res.Sessions)
	assert.LessOrEqual(t, res.Sessions, 200+2)
	assert.Positive(t, res.Sent)
	assert.LessOrEqual(t, res.Foreign, res.Sent)
	assert.LessOrEqual(t, len(res.Examples), 3)
	assert.Equal(t, Version(), res.KCPGo)

	_, err = CrossTalk(context.Background(), CrossTalkOptions{})
	assert.Error(t, err)
}

// TestWarmWorkersParksThem: after WarmWorkers, kcp-go's post-process workers exist and every one is
// parked waiting for work. Not parallel: other tests' sessions keep the workers busy.
func TestWarmWorkersParksThem(t *testing.T) {
	WarmWorkers()
	buf := make([]byte, 1<<20)
	assert.Eventually(t, func() bool { return WorkersParked(buf) }, 2*time.Second, time.Millisecond)
	assert.Contains(t, string(buf[:runtime.Stack(buf, true)]), "kcp-go/v5.postProcessWorker(", "v5.7.6 has workers")
}
