package report

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestSlug: a class name as a file name.
func TestSlug(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"response lost at Close":        "response-lost-at-close",
		"  (failed: fits no class)  ":   "failed-fits-no-class",
		"unnamed: c→s PUSH0 | s→c ACK0": "unnamed-c-s-push0-s-c-ack0",
		"Émile's 2nd try":               "mile-s-2nd-try",
		"close-under-loss@loss=10%":     "close-under-loss-loss-10",
		"":                              "",
	} {
		assert.Equal(t, want, Slug(in), "%q", in)
	}
}
