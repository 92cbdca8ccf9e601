// Package script holds roles written as data: a short list of actions (write these bytes, read with a
// deadline until N bytes or an error, echo, sleep, flush, close) and the KCP options of the session,
// in the spirit of packetdrill. Any KCP implementation can run such a role: kcp-go in process
// (harness.ScriptRole), a peer of another implementation through the peer protocol (peer/peer.go's
// header gives the JSON). The package knows no KCP implementation: Run performs the actions on any
// net.Conn, and each implementation applies the Options itself.
package script

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Script is one role: the options of its session and the actions it performs, in order.
type Script struct {
	Options Options  `json:"options,omitzero"`
	Actions []Action `json:"actions"`
}

// Options are the KCP options of a role's session. Every field is optional: absent is the
// implementation's own default, which is what an experiment measures.
type Options struct {
	// NoDelay, IntervalMs, Resend and NC are given together or not at all (ikcp_nodelay,
	// kcp-go SetNoDelay).
	NoDelay    *int `json:"nodelay,omitempty"`
	IntervalMs *int `json:"interval_ms,omitempty"`
	Resend     *int `json:"resend,omitempty"`
	NC         *int `json:"nc,omitempty"`
	// SndWnd and RcvWnd are given together or not at all (ikcp_wndsize, kcp-go SetWindowSize).
	SndWnd *int `json:"snd_wnd,omitempty"`
	RcvWnd *int `json:"rcv_wnd,omitempty"`
	MTU    *int `json:"mtu,omitempty"` // ikcp_setmtu, kcp-go SetMtu; 50 to 1500
	// Stream is stream mode (kcp->stream, kcp-go SetStreamMode).
	Stream *bool `json:"stream,omitempty"`
	// MinRTOMs is ikcp's rx_minrto; kcp-go does not expose it and ignores it.
	MinRTOMs *int `json:"min_rto_ms,omitempty"`
}

// The actions' names ("do").
const (
	DoWrite = "write" // one Write of Data (or DataB64)
	DoRead  = "read"  // Reads until UntilBytes bytes (0: until a Read fails), each with DeadlineMs
	DoEcho  = "echo"  // Read, write back what was read, until one fails; ends the role
	DoSleep = "sleep" // wait Ms milliseconds; the session keeps running
	DoFlush = "flush" // ikcp_flush; nothing in kcp-go, whose Write already flushes
	DoClose = "close" // Close the session
	// DoPace writes Count messages of Size bytes, one every EveryMs ms (the first at once), each
	// starting with its index (4 bytes, big-endian), while it reads; it ends once Count messages were
	// read back, and a Read that fails (DeadlineMs each) ends the role. The timed echo of KCP's test
	// program: each message's round trip is its Read event's time less its Write event's.
	DoPace = "pace"
)

// Action is one step of a role; Do says which, and the other fields are its parameters (a field
// that does not belong to the action must be left out).
type Action struct {
	Do string `json:"do"`
	// write: the bytes, as text (Data) or as base64 in JSON (DataB64); exactly one of them.
	Data    string `json:"data,omitempty"`
	DataB64 []byte `json:"data_b64,omitempty"`
	// read, echo: each Read gets a fresh deadline this many ms away (read: 0 is none; echo: required).
	DeadlineMs int `json:"deadline_ms,omitempty"`
	// read: stop once this many bytes were read in all (0: read until a Read fails).
	UntilBytes int `json:"until_bytes,omitempty"`
	// read: the bytes read must be exactly these, or the role fails.
	Expect string `json:"expect,omitempty"`
	// read: a failing Read ends the action, not the role.
	MayFail bool `json:"may_fail,omitempty"`
	// sleep: how long, in ms (required).
	Ms int `json:"ms,omitempty"`
	// pace: how many messages, how far apart (ms), and how long each (bytes, at least 4).
	Count   int `json:"count,omitempty"`
	EveryMs int `json:"every_ms,omitempty"`
	Size    int `json:"size,omitempty"`
}

// Payload is the bytes a write action writes.
func (a Action) Payload() []byte {
	if a.DataB64 != nil {
		return a.DataB64
	}
	return []byte(a.Data)
}

// UnmarshalJSON decodes a script strictly: a field the format does not have is an error (a misspelt
// "deadline" must not silently become no deadline).
func (s *Script) UnmarshalJSON(b []byte) error {
	type plain Script // without this method
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p plain
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("script: %w", err)
	}
	*s = Script(p)
	return nil
}

// Parse decodes a script from JSON and validates it.
func Parse(b []byte) (*Script, error) {
	var s Script
	if err := s.UnmarshalJSON(b); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Validate reports every problem of the script: an unknown action, a missing or stray parameter, a
// half-given option group, an out-of-range value, an action that can never run.
func (s *Script) Validate() error {
	if s == nil {
		return errors.New("script: no script")
	}
	errs := s.Options.validate()
	if len(s.Actions) == 0 {
		errs = append(errs, errors.New("no actions"))
	}
	for i, a := range s.Actions {
		for _, err := range a.validate() {
			errs = append(errs, fmt.Errorf("action %d (%s): %w", i+1, a.Do, err))
		}
		if ends := a.endsRole(); ends != "" && i < len(s.Actions)-1 {
			errs = append(errs, fmt.Errorf("action %d (%s): %s, so actions %d.. never run", i+1, a.Do, ends, i+2))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, err := range errs {
		msgs[i] = err.Error()
	}
	return fmt.Errorf("script: %s", strings.Join(msgs, "; "))
}

// endsRole says why the action always ends the role ("" when it does not).
func (a Action) endsRole() string {
	switch {
	case a.Do == DoEcho:
		return "echo ends the role"
	case a.Do == DoRead && a.UntilBytes == 0 && !a.MayFail:
		return "a read without until_bytes ends in an error, which ends the role unless may_fail"
	}
	return ""
}

func (o Options) validate() []error {
	var errs []error
	group := func(names []string, vals ...*int) {
		given := 0
		for _, v := range vals {
			if v != nil {
				given++
			}
		}
		if given != 0 && given != len(vals) {
			var missing []string
			for i, v := range vals {
				if v == nil {
					missing = append(missing, names[i])
				}
			}
			errs = append(errs, fmt.Errorf("options: %s are given together or not at all (missing %s)",
				strings.Join(names, ", "), strings.Join(missing, ", ")))
		}
	}
	group([]string{"nodelay", "interval_ms", "resend", "nc"}, o.NoDelay, o.IntervalMs, o.Resend, o.NC)
	group([]string{"snd_wnd", "rcv_wnd"}, o.SndWnd, o.RcvWnd)
	for _, f := range []struct {
		name     string
		v        *int
		min, max int
	}{
		{"nodelay", o.NoDelay, 0, 2}, {"interval_ms", o.IntervalMs, 1, 5000}, {"resend", o.Resend, 0, 1 << 20},
		{"nc", o.NC, 0, 1}, {"snd_wnd", o.SndWnd, 1, 1 << 16}, {"rcv_wnd", o.RcvWnd, 1, 1 << 16},
		{"mtu", o.MTU, 50, 1500}, {"min_rto_ms", o.MinRTOMs, 1, 60000},
	} {
		if f.v != nil && (*f.v < f.min || *f.v > f.max) {
			errs = append(errs, fmt.Errorf("options: %s %d is outside %d..%d", f.name, *f.v, f.min, f.max))
		}
	}
	return errs
}

// params lists, per action, the parameters it takes.
var params = map[string][]string{
	DoWrite: {"data", "data_b64"},
	DoRead:  {"deadline_ms", "until_bytes", "expect", "may_fail"},
	DoEcho:  {"deadline_ms"},
	DoSleep: {"ms"},
	DoFlush: nil,
	DoClose: nil,
	DoPace:  {"count", "every_ms", "size", "deadline_ms"},
}

// given lists the parameters the action sets, by their JSON names.
func (a Action) given() []string {
	var out []string
	for _, p := range []struct {
		name string
		set  bool
	}{
		{"data", a.Data != ""}, {"data_b64", a.DataB64 != nil}, {"deadline_ms", a.DeadlineMs != 0},
		{"until_bytes", a.UntilBytes != 0}, {"expect", a.Expect != ""}, {"may_fail", a.MayFail}, {"ms", a.Ms != 0},
		{"count", a.Count != 0}, {"every_ms", a.EveryMs != 0}, {"size", a.Size != 0},
	} {
		if p.set {
			out = append(out, p.name)
		}
	}
	return out
}

func (a Action) validate() []error {
	takes, ok := params[a.Do]
	if !ok {
		if a.Do == "" {
			return []error{errors.New(`"do" is missing`)}
		}
		return []error{fmt.Errorf("unknown action; known: write, read, echo, sleep, flush, close, pace")}
	}
	var errs []error
	for _, g := range a.given() {
		if !contains(takes, g) {
			errs = append(errs, fmt.Errorf("%s does not take %s", a.Do, g))
		}
	}
	neg := func(name string, v int) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s %d is negative", name, v))
		}
	}
	switch a.Do {
	case DoWrite:
		switch {
		case a.Data == "" && len(a.DataB64) == 0:
			errs = append(errs, errors.New("data (or data_b64) is missing"))
		case a.Data != "" && a.DataB64 != nil:
			errs = append(errs, errors.New("give data or data_b64, not both"))
		}
	case DoRead:
		neg("deadline_ms", a.DeadlineMs)
		neg("until_bytes", a.UntilBytes)
		switch {
		case a.Expect != "" && a.UntilBytes > 0 && len(a.Expect) != a.UntilBytes:
			errs = append(errs, fmt.Errorf("expect has %d bytes, until_bytes says %d", len(a.Expect), a.UntilBytes))
		case a.Expect != "" && a.UntilBytes == 0 && !a.MayFail:
			errs = append(errs, errors.New("expect is never checked: without until_bytes the read ends in an error, which ends the role unless may_fail"))
		}
	case DoEcho:
		if a.DeadlineMs <= 0 {
			errs = append(errs, errors.New("deadline_ms is missing (a positive number of ms)"))
		}
	case DoSleep:
		if a.Ms <= 0 {
			errs = append(errs, errors.New("ms is missing (a positive number of ms)"))
		}
	case DoPace:
		for _, p := range []struct {
			name   string
			v, min int
		}{{"count", a.Count, 1}, {"every_ms", a.EveryMs, 1}, {"size", a.Size, 4}, {"deadline_ms", a.DeadlineMs, 1}} {
			if p.v < p.min {
				errs = append(errs, fmt.Errorf("%s %d: want at least %d", p.name, p.v, p.min))
			}
		}
		if a.Size > ReadBuffer {
			errs = append(errs, fmt.Errorf("size %d: want at most %d (one Read takes one message)", a.Size, ReadBuffer))
		}
	}
	return errs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// String renders the script like a packetdrill script: its options on one line, then one action per
// line, parameters as name=value under their JSON names.
func (s *Script) String() string {
	var b strings.Builder
	if o := s.Options.String(); o != "" {
		b.WriteString("options " + o + "\n")
	}
	for _, a := range s.Actions {
		b.WriteString(a.String() + "\n")
	}
	return b.String()
}

// String renders the options as name=value pairs in the script's order ("" when none is set).
func (o Options) String() string {
	var parts []string
	for _, f := range []struct {
		name string
		v    *int
	}{{"nodelay", o.NoDelay}, {"interval_ms", o.IntervalMs}, {"resend", o.Resend}, {"nc", o.NC},
		{"snd_wnd", o.SndWnd}, {"rcv_wnd", o.RcvWnd}, {"mtu", o.MTU}} {
		if f.v != nil {
			parts = append(parts, fmt.Sprintf("%s=%d", f.name, *f.v))
		}
	}
	if o.Stream != nil {
		parts = append(parts, fmt.Sprintf("stream=%t", *o.Stream))
	}
	if o.MinRTOMs != nil {
		parts = append(parts, fmt.Sprintf("min_rto_ms=%d", *o.MinRTOMs))
	}
	return strings.Join(parts, " ")
}

// String renders one action, e.g. `read deadline_ms=1000 until_bytes=9 expect="handshake"`.
func (a Action) String() string {
	parts := []string{a.Do}
	if a.Data != "" {
		parts = append(parts, strconv.Quote(a.Data))
	}
	if a.DataB64 != nil {
		parts = append(parts, fmt.Sprintf("data_b64=%s (%d bytes)", base64.StdEncoding.EncodeToString(a.DataB64), len(a.DataB64)))
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"deadline_ms", a.DeadlineMs}, {"until_bytes", a.UntilBytes}, {"ms", a.Ms}} {
		if p.v != 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", p.name, p.v))
		}
	}
	if a.Expect != "" {
		parts = append(parts, "expect="+strconv.Quote(a.Expect))
	}
	if a.MayFail {
		parts = append(parts, "may_fail")
	}
	return strings.Join(parts, " ")
}
