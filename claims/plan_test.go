package claims

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestOptionsCheck(t *testing.T) {
	t.Parallel()
	ok := Options{Seeds: 5, BulkSeeds: 3, Parallel: 10}
	tests := []struct {
		name string
		edit func(*Options)
		err  string // "" when o makes a plan
	}{
		{"defaults", func(*Options) {}, ""},
		{"no bulk transfers", func(o *Options) { o.BulkSeeds = 0 }, ""},
		{"skip what exists", func(o *Options) { o.Skip = []string{"modes", "bulk"} }, ""},
		{"one seed: no interval", func(o *Options) { o.Seeds = 1 }, "1 seeds: want at least 2"},
		{"one bulk seed", func(o *Options) { o.BulkSeeds = 1 }, "1 bulk seeds: want 0 (no bulk transfers) or at least 2"},
		{"nothing at once", func(o *Options) { o.Parallel = 0 }, "parallel 0: want at least 1"},
		{"skip what does not exist", func(o *Options) { o.Skip = []string{"modes", "tea"} }, `cannot skip "tea": want some of modes, interactive, bulk`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := ok
			tc.edit(&o)
			err := o.Check()
			if tc.err == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, ErrOptions)
			assert.ErrorContains(t, err, tc.err)
		})
	}
}
