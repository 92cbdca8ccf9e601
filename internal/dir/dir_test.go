package dir

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestNames: each direction's three spellings, as events, ladders and the link print them.
func TestNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d               Dir
		str, arrow, key string
		valid           bool
		reverse         Dir
	}{
		{Unknown, "?", "?", "Dir(0)", false, Unknown},
		{C2S, "client", "c→s", "c2s", true, S2C},
		{S2C, "server", "s→c", "s2c", true, C2S},
		{Dir(9), "?", "?", "Dir(9)", false, Unknown},
	} {
		t.Run(tc.key, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.str, tc.d.String())
			assert.Equal(t, tc.arrow, tc.d.Arrow())
			assert.Equal(t, tc.key, tc.d.Key())
			assert.Equal(t, tc.valid, tc.d.Valid())
			assert.Equal(t, tc.reverse, tc.d.Reverse())
		})
	}
}

// TestIndex: Both and Index agree, and an index is only for a valid direction.
func TestIndex(t *testing.T) {
	t.Parallel()
	for i, d := range Both {
		assert.Equal(t, i, d.Index(), "%s", d.Key())
	}
	assert.Equal(t, C2S, Both[0])
	assert.Panics(t, func() { Unknown.Index() })
}
