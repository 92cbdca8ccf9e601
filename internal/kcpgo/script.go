package kcpgo

import (
	kcp "github.com/xtaci/kcp-go/v5"

	"kcplab/script"
)

// ScriptIgnores lists the role-script options (package script) that kcp-go does not apply: it does not
// expose rx_minrto (its SetNoDelay sets it from nodelay). A kcp-go peer names them in its hello.
var ScriptIgnores = []string{"min_rto_ms"}

// ApplyScriptOptions sets a role script's options on a session, with the setters every release has;
// an option left out keeps kcp-go's default, and so does a half-given group (which the script's
// Validate rejects). min_rto_ms is ignored (ScriptIgnores).
func ApplyScriptOptions(sess *kcp.UDPSession, o script.Options) {
	if o.NoDelay != nil && o.IntervalMs != nil && o.Resend != nil && o.NC != nil {
		sess.SetNoDelay(*o.NoDelay, *o.IntervalMs, *o.Resend, *o.NC)
	}
	if o.SndWnd != nil && o.RcvWnd != nil {
		sess.SetWindowSize(*o.SndWnd, *o.RcvWnd)
	}
	if o.MTU != nil {
		sess.SetMtu(*o.MTU)
	}
	if o.Stream != nil {
		sess.SetStreamMode(*o.Stream)
	}
}
