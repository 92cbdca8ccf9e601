package kcpgo

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestTagsFor: each tag is chosen by the absence of its marker from a release's source, in a fixed order.
func TestTagsFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"v5.6.19 and later", "package kcp\n\nfunc NewConn4() {}\n\ntype timeoutError struct{}\n\ntype Listener struct{ ownConn bool }\n", nil},
		{"v5.6.14-v5.6.18", "package kcp\n\nfunc NewConn4() {}\n\ntype Listener struct{ ownConn bool }\n", []string{PlainTimeoutTag}},
		{"v5.6.1-v5.6.13", "package kcp\n\nfunc NewConn3() {}\n\ntype Listener struct{ ownConn bool }\n", []string{NoConn4Tag, PlainTimeoutTag}},
		{"v5.4.20 and older", "package kcp\n\nfunc NewConn3() {}\n", []string{NoConn4Tag, PlainTimeoutTag, ListenerOwnsConnTag}},
		{"a call is not a declaration", "package kcp\n\nvar _ = NewConn4(0)\n\ntype timeoutError struct{}\n\nvar ownConn bool\n", []string{NoConn4Tag}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, TagsFor([]byte(tc.src)))
		})
	}
}
