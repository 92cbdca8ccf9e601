package kcpgo

import "bytes"

// The build tags that select a shim for older releases. versions.Builder passes those a release needs
// (TagsFor) when it builds kcplab against it; a plain `go build` is for the pinned release and needs none.
const (
	// NoConn4Tag is for releases without kcp.NewConn4 (v5.6.13 and older): DialOn dials with NewConn3
	// and closes the socket itself (dial_noconn4.go).
	NoConn4Tag = "kcpgo_noconn4"
	// PlainTimeoutTag is for releases whose deadline error is errors.New("timeout"), not a net.Error
	// (v5.6.18 and older): IsTimeout then recognises it by its text (timeout_plaintimeout.go).
	PlainTimeoutTag = "kcpgo_plaintimeout"
	// ListenerOwnsConnTag is for releases whose Listener.Close closes the socket given to ServeConn (no
	// ownConn field: v5.4.20 and older): ServeOn then hands it a socket whose Close does nothing
	// (serve_listenerownsconn.go).
	ListenerOwnsConnTag = "kcpgo_listenerownsconn"
)

// tagMarkers pairs each tag with the text of kcp-go's source whose absence means a release needs it,
// in the order TagsFor lists them.
var tagMarkers = []struct{ tag, marker string }{
	{NoConn4Tag, "\nfunc NewConn4("},
	{PlainTimeoutTag, "\ntype timeoutError "},
	{ListenerOwnsConnTag, "ownConn"},
}

// TagsFor returns the build tags kcplab needs for a kcp-go release, given the text of its package's Go
// files (tests aside): NoConn4Tag without NewConn4, PlainTimeoutTag without the timeoutError type,
// ListenerOwnsConnTag without the ownConn field.
func TagsFor(src []byte) []string {
	var tags []string
	for _, m := range tagMarkers {
		if !bytes.Contains(src, []byte(m.marker)) {
			tags = append(tags, m.tag)
		}
	}
	return tags
}
