package harness

import (
	"fmt"

	kcp "github.com/xtaci/kcp-go/v5"

	"kcplab/script"
)

// The in-process interpreter of role scripts (package script) for kcp-go: a scripted role is the
// script's Run on the session's net.Conn, after the script's options were set on the *kcp.UDPSession.
// This file is the kcp-go-specific half of scripts; it belongs with kcp-go's other specifics
// (internal/kcpgo, once that package is on main).

// ScriptIgnores lists the script options kcp-go's interpreter does not apply: kcp-go does not expose
// rx_minrto (its SetNoDelay sets it from nodelay). A kcp-go peer names them in its hello.
var ScriptIgnores = []string{"min_rto_ms"}

// ScriptRole is the role a script describes, as a Role on the session's net.Conn.
func ScriptRole(s *script.Script) Role { return s.Run }

// ApplyScriptOptions sets a script's options on a kcp-go session; an option left out keeps kcp-go's
// default, and so does a half-given group (which Validate rejects). min_rto_ms is ignored.
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

// ServerRole is the role run on every accepted session: ServerScript's when set, else Server.
func (e *Experiment) ServerRole() Role {
	if e.ServerScript != nil {
		return ScriptRole(e.ServerScript)
	}
	return e.Server
}

// ClientRole is the role run on the dialed session: ClientScript's when set, else Client.
func (e *Experiment) ClientRole() Role {
	if e.ClientScript != nil {
		return ScriptRole(e.ClientScript)
	}
	return e.Client
}

// serverSession sets the options of an accepted session: ServerScript's, or ServerSession's.
func (e *Experiment) serverSession(s *kcp.UDPSession) {
	switch {
	case e.ServerScript != nil:
		ApplyScriptOptions(s, e.ServerScript.Options)
	case e.ServerSession != nil:
		e.ServerSession(s)
	}
}

// clientSession sets the options of a dialed session: ClientScript's, or ClientSession's.
func (e *Experiment) clientSession(s *kcp.UDPSession) {
	switch {
	case e.ClientScript != nil:
		ApplyScriptOptions(s, e.ClientScript.Options)
	case e.ClientSession != nil:
		e.ClientSession(s)
	}
}

// Scripted reports whether every role of e is a script, so that a peer that runs scripts only can
// run it.
func (e *Experiment) Scripted() bool {
	return e.ClientScript != nil && (e.NoListener || e.ServerScript != nil)
}

// CheckRoles reports what keeps e's roles from running: no client role, no server role (unless
// NoListener), a role given both as a script and as Go (function or session hook), an invalid script.
func (e *Experiment) CheckRoles() error {
	if e.ClientRole() == nil || (e.ServerRole() == nil && !e.NoListener) {
		return fmt.Errorf("experiment %s: a client role is required, and a server role unless NoListener", e.ID)
	}
	for _, r := range []struct {
		name    string
		s       *script.Script
		role    bool
		session bool
	}{
		{"server", e.ServerScript, e.Server != nil, e.ServerSession != nil},
		{"client", e.ClientScript, e.Client != nil, e.ClientSession != nil},
	} {
		if r.s == nil {
			continue
		}
		if r.role || r.session {
			return fmt.Errorf("experiment %s: the %s role is a script and also Go code (a role function or a session hook); the script replaces both", e.ID, r.name)
		}
		if err := r.s.Validate(); err != nil {
			return fmt.Errorf("experiment %s: the %s role's %w", e.ID, r.name, err)
		}
	}
	return nil
}
