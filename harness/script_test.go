package harness

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	kcp "github.com/xtaci/kcp-go/v5"

	"kcplab/kcpwire"
	"kcplab/script"
)

// mustScript parses a script the test wrote.
func mustScript(t *testing.T, js string) *script.Script {
	t.Helper()
	s, err := script.Parse([]byte(js))
	require.NoError(t, err)
	return s
}

// scriptedPingPong is pingPong with its roles as scripts: the same calls in the same order.
func scriptedPingPong(t *testing.T) *Experiment {
	t.Helper()
	e := pingPong(pingPongAnswered)
	e.Server, e.Client = nil, nil
	e.ServerScript = mustScript(t, `{"actions":[{"do":"read","deadline_ms":2000,"until_bytes":4,"expect":"ping"},`+
		`{"do":"write","data":"pong"},{"do":"read","deadline_ms":300,"may_fail":true}]}`)
	e.ClientScript = mustScript(t, `{"actions":[{"do":"write","data":"ping"},{"do":"read","deadline_ms":2000,"until_bytes":4,"expect":"pong"},`+
		`{"do":"read","deadline_ms":300,"may_fail":true}]}`)
	return e
}

// eventShape is an event without its times: who, what, which bytes, which outcome.
type eventShape struct {
	Who, Kind, Data string
	Outcome         Outcome
}

func shapes(tr *Trace, side Side) []eventShape {
	var out []eventShape
	for _, e := range tr.EventsOf(side, 0) {
		out = append(out, eventShape{e.Who(), e.Kind.String(), string(e.Data), OutcomeOf(e.Err)})
	}
	return out
}

// TestScriptedRolesRunLikeGoRoles runs pingPong with Go roles and with the same roles as scripts: both
// land every trial in the one class, with the same events on each side.
func TestScriptedRolesRunLikeGoRoles(t *testing.T) {
	t.Parallel()
	opts := RunOptions{Trials: 3, Parallel: 3, KeepDir: t.TempDir()}
	goRes, err := Run(context.Background(), pingPong(pingPongAnswered), opts)
	require.NoError(t, err)
	scRes, err := Run(context.Background(), scriptedPingPong(t), opts)
	require.NoError(t, err)
	for _, res := range []*Result{goRes, scRes} {
		noFailedTrials(t, res)
		assert.Equal(t, 3, res.Counts["answered"])
	}
	for _, side := range []Side{Server, Client} {
		want := shapes(goRes.Trials[0].Trace, side)
		require.NotEmpty(t, want)
		for _, tr := range scRes.Trials {
			assert.Equal(t, want, shapes(tr.Trace, side), "%s, trial %d", side, tr.Trial)
		}
	}
}

// scriptedP003 has p003's roles as scripts, written here (the experiments' own are Go code): the
// server reads the request, writes a fixed text and closes; the client writes the request and reads
// with a 1 s deadline until an error. opts are the client's options.
func scriptedP003(t *testing.T, clientOptions string) *Experiment {
	t.Helper()
	return &Experiment{
		ID: "p003-scripted",
		ServerScript: mustScript(t, `{"actions":[{"do":"read","until_bytes":9,"expect":"handshake"},`+
			`{"do":"write","data":"2026-01-02 15:04:05.123456789 +0000 UTC m=+0.000000001"},{"do":"close"}]}`),
		ClientScript: mustScript(t, `{`+clientOptions+`"actions":[{"do":"write","data":"handshake"},{"do":"read","deadline_ms":1000}]}`),
		Trials:       2,
	}
}

// TestScriptedP003 runs p003's roles as scripts in process: the events are the Go roles' (the server
// reads the request, writes, closes once and returns nil; the client's Read ends by timeout after 1 s
// and is its role's error), and the client's options reach its session (its window on the wire).
func TestScriptedP003(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		options string
		wnd     uint16 // the window the client's request advertises
	}{
		{"kcp-go's defaults", "", 32},
		{"the client's options", `"options":{"snd_wnd":64,"rcv_wnd":64,"mtu":1400,"stream":false,"min_rto_ms":30},`, 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := Run(context.Background(), scriptedP003(t, tc.options), RunOptions{Parallel: 2, Discover: true, KeepDir: t.TempDir()})
			require.NoError(t, err)
			noFailedTrials(t, res)
			for _, trial := range res.Trials {
				tr := trial.Trace
				require.NotNil(t, tr)
				assert.Equal(t, []eventShape{
					{"server#1", "Accept", "", OutcomeOK},
					{"server#1", "Read", "handshake", OutcomeOK},
					{"server#1", "Write", "2026-01-02 15:04:05.123456789 +0000 UTC m=+0.000000001", OutcomeOK},
					{"server#1", "Close", "", OutcomeOK},
					{"server#1", "return", "", OutcomeOK},
				}, shapes(tr, Server)[:5], "the first session's events")
				assert.True(t, IsTimeout(tr.ClientErr), "client role's error: %v", tr.ClientErr)
				cli := shapes(tr, Client)
				require.GreaterOrEqual(t, len(cli), 4)
				assert.Equal(t, eventShape{"client", "Write", "handshake", OutcomeOK}, cli[1])
				assert.Equal(t, eventShape{"client", "Close", "", OutcomeOK}, cli[len(cli)-2], "closed at the end, as by a deferred Close")
				require.NotEmpty(t, tr.Segments)
				first := tr.Segments[0]
				assert.Equal(t, kcpwire.CmdPush, first.Cmd)
				assert.Equal(t, C2S, first.Dir)
				assert.Equal(t, tc.wnd, first.Wnd, "the client's request advertises its receive window")
			}
		})
	}
}

// TestCheckRoles lists what keeps an experiment's roles from running.
func TestCheckRoles(t *testing.T) {
	t.Parallel()
	ok := `{"actions":[{"do":"close"}]}`
	goRole := func(net.Conn) error { return nil }
	for _, tc := range []struct {
		name string
		e    func() *Experiment
		want string // "" for none
	}{
		{"scripts", func() *Experiment { return scriptedP003(t, "") }, ""},
		{"go roles", func() *Experiment { return pingPong() }, ""},
		{"a client script and no server", func() *Experiment {
			return &Experiment{ID: "x", ClientScript: mustScript(t, ok), NoListener: true}
		}, ""},
		{"no client", func() *Experiment { return &Experiment{ID: "x", Server: goRole} }, "experiment x: a client role is required"},
		{"no server", func() *Experiment { return &Experiment{ID: "x", ClientScript: mustScript(t, ok)} }, "and a server role unless NoListener"},
		{"script and function", func() *Experiment {
			e := scriptedP003(t, "")
			e.Server = goRole
			return e
		}, "experiment p003-scripted: the server role is a script and also Go code"},
		{"script and session hook", func() *Experiment {
			e := scriptedP003(t, "")
			e.ClientSession = func(*kcp.UDPSession) {}
			return e
		}, "the client role is a script and also Go code"},
		{"invalid script", func() *Experiment {
			e := scriptedP003(t, "")
			e.ClientScript.Actions = append(e.ClientScript.Actions, script.Action{Do: "jump"})
			return e
		}, "experiment p003-scripted: the client role's script: action 2 (read): a read without until_bytes ends in an error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := tc.e()
			err := e.CheckRoles()
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			_, err = Run(context.Background(), e, RunOptions{Trials: 1})
			assert.ErrorContains(t, err, tc.want, "Run refuses it")
		})
	}
}
