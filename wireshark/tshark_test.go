package wireshark

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tsharkTimeout bounds one tshark run.
const tsharkTimeout = 60 * time.Second

// requireTshark skips the test when tshark is not installed.
func requireTshark(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark is not on PATH: install it (Debian/Ubuntu: apt-get install tshark) to test wireshark/kcp.lua")
	}
}

// luaScript returns the absolute path of kcp.lua.
func luaScript(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("kcp.lua")
	require.NoError(t, err)
	return p
}

// runTshark runs tshark with args and returns its stdout. It fails the test when tshark fails
// or when its stderr mentions Lua or an error (tshark exits 0 on a broken Lua script).
func runTshark(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), tsharkTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "tshark", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, err, "tshark %s\nstderr:\n%s", strings.Join(args, " "), stderr.String())
	for _, line := range strings.Split(stderr.String(), "\n") {
		l := strings.ToLower(line)
		if strings.Contains(l, "lua") || strings.Contains(l, "error") {
			require.Failf(t, "tshark reported a problem", "tshark %s\nstderr:\n%s", strings.Join(args, " "), stderr.String())
		}
	}
	return stdout.String()
}

var (
	registeredOnce  sync.Once
	registeredPorts map[uint16]bool
	registeredErr   error
)

// tsharkUDPPorts returns the UDP ports tshark hands to other dissectors by default.
func tsharkUDPPorts(t *testing.T) map[uint16]bool {
	t.Helper()
	registeredOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), tsharkTimeout)
		defer cancel()
		out, err := exec.CommandContext(ctx, "tshark", "-G", "decodes").Output()
		if err != nil {
			registeredErr = fmt.Errorf("tshark -G decodes: %w", err)
			return
		}
		registeredPorts = map[uint16]bool{}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			f := strings.Split(sc.Text(), "\t")
			if len(f) < 2 || f[0] != "udp.port" {
				continue
			}
			if p, err := strconv.ParseUint(f[1], 10, 16); err == nil {
				registeredPorts[uint16(p)] = true
			}
		}
		registeredErr = sc.Err()
	})
	require.NoError(t, registeredErr)
	return registeredPorts
}

// kcpPorts parses the client's and the server's address of a synthetic capture and fails t if tshark
// hands either port to another dissector, which would take the datagrams from the KCP heuristic.
func kcpPorts(t *testing.T, client, server string) (netip.AddrPort, netip.AddrPort) {
	t.Helper()
	c, s := netip.MustParseAddrPort(client), netip.MustParseAddrPort(server)
	if avoid := tsharkUDPPorts(t); avoid[c.Port()] || avoid[s.Port()] {
		t.Fatalf("tshark registers port %v or %v for another protocol", c.Port(), s.Port())
	}
	return c, s
}

// decodeArgs returns the arguments that print the KCP fields of every frame of file (columns).
func decodeArgs(script, file string, prefs ...string) []string {
	return fieldArgs(script, file, columns, prefs...)
}

// fieldArgs returns the arguments that print fields of every frame of file, one line per frame,
// tab-separated, every occurrence of a field comma-separated; prefs are -o values.
func fieldArgs(script, file string, fields []string, prefs ...string) []string {
	args := []string{"-X", "lua_script:" + script}
	for _, p := range prefs {
		args = append(args, "-o", p)
	}
	args = append(args, "-r", file, "-T", "fields", "-E", "occurrence=a", "-E", "separator=/t",
		"-E", "aggregator=,")
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	return args
}

// columns are the fields decodeArgs prints, in order; the expert messages (where Lua errors
// of a dissector show up) come next to last and Info last, because it may contain commas.
var columns = []string{
	"frame.number", "kcp.framing", "kcp.conv", "kcp.cmd", "kcp.frg", "kcp.wnd", "kcp.ts",
	"kcp.sn", "kcp.una", "kcp.len", "kcp.data", "kcp.fec.seqid", "kcp.fec.type", "kcp.fec.size",
	"kcp.oob.conv", "kcp.oob.data", "_ws.expert.message", "_ws.col.Info",
}

// seg is one segment as printed by tshark or derived from kcpwire.
type seg struct {
	Conv, Ts, Sn, Una, Len uint32
	Cmd, Frg               uint8
	Wnd                    uint16
	Data                   string // hex; "" when Len is 0
}

// fecHdr is the FEC header as printed by tshark or derived from kcpwire.
type fecHdr struct {
	SeqID uint32
	Type  uint16
	Size  uint16
}

// frame is what the dissector said about one frame.
type frame struct {
	Number    int
	Framing   string // "" when the frame is not KCP
	Segments  []seg
	FEC       *fecHdr
	OOBConv   *uint32
	OOBData   string
	Malformed bool
	Info      string
}

// parseFrames parses decodeArgs output; frames are indexed by frame number - 1.
func parseFrames(t *testing.T, out string) []frame {
	t.Helper()
	var frames []frame
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		col := strings.SplitN(line, "\t", len(columns))
		require.Len(t, col, len(columns), "tshark line %q", line)
		f, err := parseFrame(col)
		require.NoError(t, err, "tshark line %q", line)
		require.Equal(t, len(frames)+1, f.Number, "frames out of order")
		frames = append(frames, f)
	}
	return frames
}

// parseFrame turns the columns of one line into a frame.
func parseFrame(col []string) (frame, error) {
	v := map[string][]string{}
	for i, name := range columns {
		if col[i] != "" {
			v[name] = strings.Split(col[i], ",")
		}
	}
	f := frame{Framing: col[1]}
	if f.Framing != "" {
		f.Info = col[len(columns)-1] // other protocols' Info columns are not compared
	}
	expertMsg := col[len(columns)-2]
	if strings.Contains(strings.ToLower(expertMsg), "lua error") {
		return f, fmt.Errorf("the dissector raised a Lua error: %s", expertMsg)
	}
	f.Malformed = strings.Contains(expertMsg, "malformed")
	n, err := strconv.Atoi(col[0])
	if err != nil {
		return f, fmt.Errorf("frame.number: %w", err)
	}
	f.Number = n
	nums := map[string][]uint64{}
	for _, name := range []string{"kcp.conv", "kcp.cmd", "kcp.frg", "kcp.wnd", "kcp.ts", "kcp.sn", "kcp.una",
		"kcp.len", "kcp.fec.seqid", "kcp.fec.type", "kcp.fec.size", "kcp.oob.conv"} {
		for _, s := range v[name] {
			x, err := strconv.ParseUint(s, 0, 32)
			if err != nil {
				return f, fmt.Errorf("%s %q: %w", name, s, err)
			}
			nums[name] = append(nums[name], x)
		}
	}
	count := len(nums["kcp.cmd"])
	for _, name := range []string{"kcp.conv", "kcp.frg", "kcp.wnd", "kcp.ts", "kcp.sn", "kcp.una", "kcp.len"} {
		if len(nums[name]) != count {
			return f, fmt.Errorf("%d values of %s for %d segments", len(nums[name]), name, count)
		}
	}
	data := v["kcp.data"]
	for i := 0; i < count; i++ {
		s := seg{
			Conv: uint32(nums["kcp.conv"][i]), Cmd: uint8(nums["kcp.cmd"][i]), Frg: uint8(nums["kcp.frg"][i]),
			Wnd: uint16(nums["kcp.wnd"][i]), Ts: uint32(nums["kcp.ts"][i]), Sn: uint32(nums["kcp.sn"][i]),
			Una: uint32(nums["kcp.una"][i]), Len: uint32(nums["kcp.len"][i]),
		}
		if s.Len > 0 {
			if len(data) == 0 {
				return f, fmt.Errorf("segment %d has len %d but no kcp.data left", i+1, s.Len)
			}
			s.Data, data = data[0], data[1:]
		}
		f.Segments = append(f.Segments, s)
	}
	if len(data) != 0 {
		return f, fmt.Errorf("%d kcp.data values left over", len(data))
	}
	if len(nums["kcp.fec.type"]) > 0 {
		if len(nums["kcp.fec.seqid"]) != 1 || len(nums["kcp.fec.type"]) != 1 || len(nums["kcp.fec.size"]) != 1 {
			return f, fmt.Errorf("want one FEC header, got seqid %v type %v size %v",
				nums["kcp.fec.seqid"], nums["kcp.fec.type"], nums["kcp.fec.size"])
		}
		f.FEC = &fecHdr{SeqID: uint32(nums["kcp.fec.seqid"][0]), Type: uint16(nums["kcp.fec.type"][0]),
			Size: uint16(nums["kcp.fec.size"][0])}
	}
	if c := nums["kcp.oob.conv"]; len(c) == 1 {
		x := uint32(c[0])
		f.OOBConv = &x
	}
	if d := v["kcp.oob.data"]; len(d) == 1 {
		f.OOBData = d[0]
	}
	return f, nil
}
