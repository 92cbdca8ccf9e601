package harness

import (
	"fmt"

	kcp "github.com/xtaci/kcp-go/v5"

	"kcplab/internal/kcpgo"
	"kcplab/script"
)

// The in-process interpreter of role scripts (package script) for kcp-go: a scripted role is the
// script's Run on the session's net.Conn, after the script's options were set on the session
// (kcpgo.ApplyScriptOptions, with kcp-go's other specifics).

// ScriptRole is the role a script describes, as a Role on the session's net.Conn.
func ScriptRole(s *script.Script) Role { return s.Run }

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
func (e *Experiment) serverSession(s *kcp.UDPSession) { setSession(s, e.ServerScript, e.ServerSession) }

// clientSession sets the options of a dialed session: ClientScript's, or ClientSession's.
func (e *Experiment) clientSession(s *kcp.UDPSession) { setSession(s, e.ClientScript, e.ClientSession) }

// setSession sets a role's options on its session: its script's if the role is one, else its session
// hook's, if any.
func setSession(s *kcp.UDPSession, sc *script.Script, hook func(*kcp.UDPSession)) {
	switch {
	case sc != nil:
		kcpgo.ApplyScriptOptions(s, sc.Options)
	case hook != nil:
		hook(s)
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
