package script

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The roles of p003 and p001 as the contract writes them.
const (
	p003Server = `{"actions":[{"do":"read","until_bytes":9,"expect":"handshake"},{"do":"write","data":"the response"},{"do":"close"}]}`
	p003Client = `{"actions":[{"do":"write","data":"handshake"},{"do":"read","deadline_ms":1000}]}`
	p001Server = `{"actions":[{"do":"echo","deadline_ms":1000}]}`
)

// TestParseValid decodes scripts of every action and option, and checks that encoding gives the same
// JSON back.
func TestParseValid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, json string
	}{
		{"p003 server", p003Server},
		{"p003 client", p003Client},
		{"p001 server", p001Server},
		{"every option", `{"options":{"nodelay":1,"interval_ms":10,"resend":2,"nc":1,"snd_wnd":128,"rcv_wnd":256,"mtu":1200,"stream":true,"min_rto_ms":30},` +
			`"actions":[{"do":"sleep","ms":5},{"do":"write","data_b64":"AAEC"},{"do":"flush"},{"do":"read","deadline_ms":300,"may_fail":true},{"do":"close"}]}`},
		{"pace", `{"actions":[{"do":"pace","count":1000,"every_ms":20,"size":8,"deadline_ms":15000}]}`},
		{"stream off is an option given", `{"options":{"stream":false},"actions":[{"do":"close"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := Parse([]byte(tc.json))
			require.NoError(t, err)
			b, err := json.Marshal(s)
			require.NoError(t, err)
			assert.JSONEq(t, tc.json, string(b))
		})
	}
}

// TestParseInvalid gives scripts with one mistake each: the error names it.
func TestParseInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, json, want string
	}{
		{"unknown action", `{"actions":[{"do":"jump"}]}`, `action 1 (jump): unknown action`},
		{"no do", `{"actions":[{"data":"x"}]}`, `action 1 (): "do" is missing`},
		{"no actions", `{"actions":[]}`, "no actions"},
		{"misspelt field", `{"actions":[{"do":"read","deadline":1000}]}`, `unknown field "deadline"`},
		{"misspelt option", `{"options":{"no_delay":1},"actions":[{"do":"close"}]}`, `unknown field "no_delay"`},
		{"write without data", `{"actions":[{"do":"write"}]}`, "action 1 (write): data (or data_b64) is missing"},
		{"write with both", `{"actions":[{"do":"write","data":"a","data_b64":"AA=="}]}`, "not both"},
		{"echo without deadline", `{"actions":[{"do":"echo"}]}`, "action 1 (echo): deadline_ms is missing"},
		{"sleep without ms", `{"actions":[{"do":"sleep"}]}`, "action 1 (sleep): ms is missing"},
		{"pace without count", `{"actions":[{"do":"pace","every_ms":20,"size":8,"deadline_ms":9}]}`, "action 1 (pace): count 0: want at least 1"},
		{"pace shorter than its index", `{"actions":[{"do":"pace","count":2,"every_ms":20,"size":3,"deadline_ms":9}]}`, "size 3: want at least 4"},
		{"stray parameter", `{"actions":[{"do":"close","ms":3}]}`, "close does not take ms"},
		{"negative deadline", `{"actions":[{"do":"read","deadline_ms":-1,"may_fail":true}]}`, "deadline_ms -1 is negative"},
		{"half of nodelay", `{"options":{"nodelay":1,"interval_ms":10},"actions":[{"do":"close"}]}`,
			"nodelay, interval_ms, resend, nc are given together or not at all (missing resend, nc)"},
		{"half of the windows", `{"options":{"rcv_wnd":64},"actions":[{"do":"close"}]}`, "(missing snd_wnd)"},
		{"mtu out of range", `{"options":{"mtu":20},"actions":[{"do":"close"}]}`, "mtu 20 is outside 50..1500"},
		{"expect of another length", `{"actions":[{"do":"read","until_bytes":4,"expect":"handshake"}]}`, "expect has 9 bytes, until_bytes says 4"},
		{"expect never checked", `{"actions":[{"do":"read","expect":"x"}]}`, "expect is never checked"},
		{"action after echo", `{"actions":[{"do":"echo","deadline_ms":5},{"do":"close"}]}`, "action 1 (echo): echo ends the role, so actions 2.. never run"},
		{"action after a read to the end", `{"actions":[{"do":"read","deadline_ms":5},{"do":"close"}]}`, "so actions 2.. never run"},
		{"not JSON", `{"actions":`, "unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.json))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "script: ")
		})
	}
}

// TestValidateReportsEveryProblem: one error lists all of a script's problems, not the first only.
func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	s := &Script{Options: Options{SndWnd: new(1)}, Actions: []Action{{Do: "jump"}, {Do: DoSleep}}}
	err := s.Validate()
	require.Error(t, err)
	for _, want := range []string{"missing rcv_wnd", "action 1 (jump)", "action 2 (sleep)"} {
		assert.Contains(t, err.Error(), want)
	}
	var nilScript *Script
	assert.EqualError(t, nilScript.Validate(), "script: no script")
}

// TestString renders scripts one action per line.
func TestString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, json, want string
	}{
		{"p003 server", p003Server, "read until_bytes=9 expect=\"handshake\"\nwrite \"the response\"\nclose\n"},
		{"p003 client", p003Client, "write \"handshake\"\nread deadline_ms=1000\n"},
		{"options and the rest", `{"options":{"nodelay":1,"interval_ms":10,"resend":2,"nc":1,"stream":true},` +
			`"actions":[{"do":"sleep","ms":5},{"do":"write","data_b64":"AAEC"},{"do":"flush"},{"do":"read","deadline_ms":300,"may_fail":true},{"do":"echo","deadline_ms":7}]}`,
			"options nodelay=1 interval_ms=10 resend=2 nc=1 stream=true\nsleep ms=5\nwrite data_b64=AAEC (3 bytes)\nflush\n" +
				"read deadline_ms=300 may_fail\necho deadline_ms=7\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := Parse([]byte(tc.json))
			require.NoError(t, err)
			assert.Equal(t, tc.want, s.String())
		})
	}
}
