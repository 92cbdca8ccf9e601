package report

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/internal/kcpgo"
)

// TestCrossTalkResultsBlock writes the crosstalk block into a RESULTS.md that has prose around it.
func TestCrossTalkResultsBlock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "RESULTS.md")
	require.NoError(t, os.WriteFile(path, []byte("# r\n\nprose\n\n<!-- kcplab:begin crosstalk -->\nold\n<!-- kcplab:end crosstalk -->\n\nafter\n"), 0o644))
	o := kcpgo.CrossTalkOptions{Duration: 10 * time.Second, Closers: 8, Steady: 4, BurstBytes: 20000}
	all := []kcpgo.CrossTalkResult{
		{KCPGo: "v5.6.72", Sessions: 900, Sent: 40000},
		{KCPGo: "v5.7.6", Sessions: 1000, Sent: 50000, Foreign: 5, Examples: []string{"the socket of conv 7 sent a datagram of conv 9 (24 bytes)"}},
	}
	require.NoError(t, WriteCrossTalkResults(path, o, all))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	doc := string(b)
	assert.Contains(t, doc, "prose")
	assert.Contains(t, doc, "after")
	assert.NotContains(t, doc, "old")
	assert.Contains(t, doc, "| v5.6.72 | 900 | 40000 | 0 | 0.0 |")
	assert.Contains(t, doc, "| v5.7.6 | 1000 | 50000 | 5 | 100.0 |")
	assert.Contains(t, doc, "For example (v5.7.6): the socket of conv 7")
	assert.Contains(t, doc, "-seconds 10 -closers 8 -steady 4 -burst 20000")
}
