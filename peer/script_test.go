package peer

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/harness"
	"kcplab/harness/harnesstest"
	"kcplab/script"
)

// p003's roles as scripts, written here (experiments/ has them as Go code): the server reads the
// request, writes a fixed text and closes; the client writes the request and reads with a 1 s
// deadline until an error. The JSON is as encoding/json writes it.
const (
	p003ServerScript = `{"actions":[{"do":"read","until_bytes":9,"expect":"handshake"},` +
		`{"do":"write","data":"2026-01-02 15:04:05.123456789 +0000 UTC m=+0.000000001"},{"do":"close"}]}`
	p003ClientScript = `{"actions":[{"do":"write","data":"handshake"},{"do":"read","deadline_ms":1000}]}`
)

func mustScript(t *testing.T, js string) *script.Script {
	t.Helper()
	s, err := script.Parse([]byte(js))
	require.NoError(t, err)
	return s
}

// errGoRole is what the Go roles of goP003 return: a trial that shows it ran a Go role, not the script.
var errGoRole = errors.New("the Go role ran")

// goP003 is the experiment "p003" as a kcp-go peer looks it up by id: Go roles that fail at once.
func goP003() *harness.Experiment {
	fail := func(c net.Conn) error { c.Close(); return errGoRole }
	return &harness.Experiment{ID: "p003", Server: fail, Client: fail}
}

// TestRunPairScripted runs p003 as scripts over two kcp-go peers that know a "p003" of their own with
// other roles: each trial runs the scripts the coordinator sent, and a role left as Go code runs the
// peer's.
func TestRunPairScripted(t *testing.T) {
	t.Parallel()
	srv, cli := pipePeer(t, goP003()), pipePeer(t, goP003())
	for _, tc := range []struct {
		name           string
		server, client bool // which roles are scripts
		clientErr      func(error) bool
	}{
		{"both roles scripted", true, true, harness.IsTimeout},
		{"a scripted server, the peer's Go client", true, false, func(err error) bool { return err != nil && err.Error() == errGoRole.Error() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := &harness.Experiment{ID: "p003", Trials: 2}
			if tc.server {
				e.ServerScript = mustScript(t, p003ServerScript)
			}
			if tc.client {
				e.ClientScript = mustScript(t, p003ClientScript)
			} else {
				e.Client = goP003().Client
			}
			res, err := RunPair(context.Background(), e, harness.RunOptions{Parallel: 2, Discover: true, KeepDir: t.TempDir()}, srv, cli)
			require.NoError(t, err)
			harnesstest.NoFailures(t, res)
			for _, trial := range res.Trials {
				tr := trial.Trace
				require.NotNil(t, tr)
				assert.True(t, tc.clientErr(tr.ClientErr), "client role's error: %v", tr.ClientErr)
				if tc.client {
					assert.Equal(t, "handshake", string(tr.BytesRead(harness.Server, 1)), "the server read the scripted client's request")
					require.NotEmpty(t, tr.ServerErr)
					assert.NoError(t, tr.ServerErr[0], "the scripted server returned nil")
				}
			}
		})
	}
}

// TestOffered: a role that is Go code needs a kcp-go peer; a peer of another implementation is offered
// scripted roles only.
func TestOffered(t *testing.T) {
	t.Parallel()
	kcpgo := &Peer{Hello: PeerMsg{Op: "hello", Impl: "kcp-go", ImplVersion: "v5.7.6", Proto: PeerProto}}
	ikcp := &Peer{Hello: PeerMsg{Op: "hello", Impl: "ikcp", ImplVersion: "node-kcp 1.0.13", Proto: PeerProto}}
	scripted := &harness.Experiment{ID: "s", ServerScript: mustScript(t, p003ServerScript), ClientScript: mustScript(t, p003ClientScript)}
	goRoles := goP003()
	half := &harness.Experiment{ID: "h", ServerScript: mustScript(t, p003ServerScript), Client: goRoles.Client}
	for _, tc := range []struct {
		name     string
		e        *harness.Experiment
		srv, cli *Peer
		want     string
	}{
		{"scripts, ikcp both ends", scripted, ikcp, ikcp, ""},
		{"go roles, kcp-go both ends", goRoles, kcpgo, kcpgo, ""},
		{"go roles, ikcp server", goRoles, ikcp, kcpgo, "experiment p003: its server role is Go code, and peer ikcp node-kcp 1.0.13 runs scripted roles only"},
		{"scripted server, go client, ikcp server", half, ikcp, kcpgo, ""},
		{"scripted server, go client, ikcp client", half, kcpgo, ikcp, "experiment h: its client role is Go code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Offered(tc.e, tc.srv, tc.cli)
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tc.want)
			_, err = RunPair(context.Background(), tc.e, harness.RunOptions{Trials: 1}, tc.srv, tc.cli)
			assert.ErrorContains(t, err, tc.want, "RunPair refuses it before any trial")
		})
	}
}

// TestPeerRefusesBadScripts: a listen or dial whose script is invalid, or not the script format, gets
// an error for that request and trial.
func TestPeerRefusesBadScripts(t *testing.T) {
	t.Parallel()
	p := pipePeer(t)
	for _, tc := range []struct {
		name, line, want string
		trial            int64
	}{
		{"unknown action", `{"op":"listen","trial":41,"exp":"x","script":{"actions":[{"do":"jump"}]}}`, "action 1 (jump): unknown action", 41},
		{"misspelt field", `{"op":"dial","trial":42,"exp":"x","server":"127.0.0.1:9","script":{"actions":[{"do":"read","deadline":1}]}}`,
			`unknown field "deadline"`, 42},
		{"half of nodelay", `{"op":"listen","trial":43,"exp":"x","script":{"options":{"nodelay":1},"actions":[{"do":"close"}]}}`,
			"missing interval_ms, resend, nc", 43},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p.wmu.Lock()
			_, err := p.w.Write([]byte(tc.line + "\n"))
			p.wmu.Unlock()
			require.NoError(t, err)
			m, err := p.Await(context.Background(), tc.trial, "ready")
			assert.ErrorContains(t, err, tc.want)
			assert.Equal(t, "error", m.Op)
		})
	}
}

// TestConformKCPGoPeer: the kcp-go peer (ServePeer) passes the conformance checks.
func TestConformKCPGoPeer(t *testing.T) {
	t.Parallel()
	p := pipePeer(t)
	for _, v := range ConformPeer(context.Background(), p) {
		t.Error(v)
	}
}
