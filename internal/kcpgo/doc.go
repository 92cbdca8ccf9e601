// Package kcpgo holds what kcplab knows about kcp-go (github.com/xtaci/kcp-go/v5) beyond its API: the
// shims that let one source tree build against many releases (one pair of files per shim, chosen by a
// build tag that versions.Builder passes), the workarounds for defects that would otherwise decide
// trials (the worker-pool warm-up, the conv registry that finds trials crossed by another trial's
// datagram), the crosstalk measurement of that defect, the linked release's version, and how a role
// script's KCP options map onto a session (script.go).
//
// The harness meets kcp-go's version-dependent behaviour through this package only. An adapter for
// another KCP implementation would sit beside it.
//
// The shims, each a file for current releases and one for older ones (build tag in parentheses):
//
//   - dial.go, dial_noconn4.go (NoConn4Tag): DialOn, a client session that owns its socket;
//   - serve.go, serve_listenerownsconn.go (ListenerOwnsConnTag): ServeOn, a listener that leaves its
//     socket open;
//   - timeout.go, timeout_plaintimeout.go (PlainTimeoutTag): IsTimeout, kcp-go's deadline error.
package kcpgo
