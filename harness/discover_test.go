package harness_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"kcplab/harness"
	"kcplab/harness/harnesstest"
)

// TestSignature: a signature says what happened, never when.
func TestSignature(t *testing.T) {
	t.Parallel()
	base := "c→s PUSH0 | s→c ACK0 | s→c PUSH0 | c→s ACK0; client read all, Read ended timeout; server#1 read all, Read ended ok; 1 session(s)"
	tests := []struct {
		name   string
		mutate func(tr *harness.Trace)
		want   string
	}{
		{"the exchange", func(*harness.Trace) {}, base},
		{"timing is left out", func(tr *harness.Trace) { tr.Segments[3].Time += 300 * time.Millisecond }, base},
		{"ACK and response in one datagram", func(tr *harness.Trace) { tr.Segments[2].Datagram = 1 },
			"c→s PUSH0 | s→c ACK0+PUSH0 | c→s ACK0; client read all, Read ended timeout; server#1 read all, Read ended ok; 1 session(s)"},
		{"a retransmission is counted", func(tr *harness.Trace) {
			rtx := tr.Segments[2]
			rtx.Datagram = 3
			tr.Segments[3].Datagram = 4
			tr.Segments = append(tr.Segments[:3], rtx, tr.Segments[3])
		}, "c→s PUSH0 | s→c ACK0 | s→c PUSH0 ×2 | c→s ACK0; client read all, Read ended timeout; server#1 read all, Read ended ok; 1 session(s)"},
		{"nothing read", func(tr *harness.Trace) { tr.Events = append(tr.Events[:3], tr.Events[4]) },
			"c→s PUSH0 | s→c ACK0 | s→c PUSH0 | c→s ACK0; client read nothing, Read ended timeout; server#1 read all, Read ended ok; 1 session(s)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := harnesstest.Exchange()
			tc.mutate(tr)
			assert.Equal(t, tc.want, harness.Signature(tr))
		})
	}
}
