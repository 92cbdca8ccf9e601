package pcapfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const tsharkPath = "/usr/bin/tshark"

func sampleAnnotations() Annotations {
	return Annotations{
		Section: "kcplab test capture",
		Packets: map[int][]string{0: {"request"}, 3: {"v6 one", "v6 two"}},
	}
}

func TestWritePcapngRoundTrip(t *testing.T) {
	t.Parallel()
	dgs := sampleDatagrams()
	dgs = append(dgs, Datagram{
		Time: dgs[4].Time.Add(time.Millisecond), Src: netip.MustParseAddrPort("127.0.0.1:1"),
		Dst: netip.MustParseAddrPort("127.0.0.1:2"), Payload: bytes.Repeat([]byte{7}, maxUDPPayload4),
	})
	path := filepath.Join(t.TempDir(), "round.pcapng")
	require.NoError(t, WritePcapngFile(path, dgs, sampleAnnotations()))

	got, err := ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "Ethernet", got.LinkType)
	assert.Equal(t, "kcplab test capture", got.Section)
	assert.Zero(t, got.Skipped)
	assert.Zero(t, got.Truncated)
	assertDatagrams(t, dgs, got.Datagrams, time.Nanosecond)
	assert.Equal(t, sampleAnnotations().Packets, got.Comments)
}

func TestWritePcapngFrames(t *testing.T) {
	t.Parallel()
	for i, d := range sampleDatagrams() {
		t.Run(fmt.Sprintf("%d-%s-%dB", i, d.Src.Addr(), len(d.Payload)), func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			require.NoError(t, WritePcapng(&b, []Datagram{d}, Annotations{}))
			// The frame is exactly Ethernet + IP + UDP + payload: no padding to 60 bytes.
			frame, err := newFrameBuilder().frame(d)
			require.NoError(t, err)
			ipLen := 20
			if d.Src.Addr().Is6() {
				ipLen = 40
			}
			assert.Len(t, frame, 14+ipLen+8+len(d.Payload))
			assert.Equal(t, make([]byte, 12), frame[:12], "zero MACs")
			assert.True(t, bytes.Contains(b.Bytes(), frame))
			got, err := Read(&b, "frame.pcapng")
			require.NoError(t, err)
			require.Len(t, got.Datagrams, 1)
			assert.Equal(t, d.Payload, got.Datagrams[0].Payload)
		})
	}
}

func TestWritePcapngErrors(t *testing.T) {
	t.Parallel()
	good := sampleDatagrams()[0]
	with := func(f func(d *Datagram)) []Datagram {
		d := good
		f(&d)
		return []Datagram{good, d}
	}
	tests := []struct {
		name string
		dgs  []Datagram
		ann  Annotations
		msg  string
	}{
		{"invalid address", with(func(d *Datagram) { d.Dst = netip.AddrPort{} }), Annotations{}, "datagram 1"},
		{"mixed families", with(func(d *Datagram) { d.Dst = netip.MustParseAddrPort("[::1]:1") }), Annotations{}, "mixed address families"},
		{"payload too big", with(func(d *Datagram) { d.Payload = make([]byte, maxUDPPayload4+1) }), Annotations{}, "exceeds the IPv4 UDP maximum"},
		{"zero time", with(func(d *Datagram) { d.Time = time.Time{} }), Annotations{}, "outside 1970..2261"},
		{"comment index", []Datagram{good}, Annotations{Packets: map[int][]string{1: {"x"}}}, "comment for datagram 1, but there are 1 datagrams"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := WritePcapng(&bytes.Buffer{}, tt.dgs, tt.ann)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
	err := WritePcapngFile(filepath.Join(t.TempDir(), "no", "such", "dir.pcapng"), nil, Annotations{})
	assert.Error(t, err)
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWritePcapngWriterError(t *testing.T) {
	t.Parallel()
	err := WritePcapng(failingWriter{}, sampleDatagrams(), Annotations{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "disk full")
}

// tshark runs tshark on path with args and returns its standard output.
func tshark(t *testing.T, path string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tsharkPath, append([]string{"-r", path}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "tshark: %s", stderr.String())
	return string(out)
}

func TestWritePcapngTshark(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(tsharkPath); err != nil {
		t.Skipf("tshark not installed at %s (apt-get install tshark): %v", tsharkPath, err)
	}
	dgs := sampleDatagrams()
	ann := sampleAnnotations()
	path := filepath.Join(t.TempDir(), "tshark.pcapng")
	require.NoError(t, WritePcapngFile(path, dgs, ann))

	t.Run("fields", func(t *testing.T) {
		out := tshark(t, path, "-T", "fields", "-E", "separator=|",
			"-e", "udp.srcport", "-e", "udp.dstport", "-e", "ip.src", "-e", "ip.dst",
			"-e", "udp.length", "-e", "frame.comment", "-e", "ipv6.src", "-e", "ipv6.dst")
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		require.Len(t, lines, len(dgs))
		for i, d := range dgs {
			ip4src, ip4dst, ip6src, ip6dst := "", "", "", ""
			if d.Src.Addr().Is4() {
				ip4src, ip4dst = d.Src.Addr().String(), d.Dst.Addr().String()
			} else {
				ip6src, ip6dst = d.Src.Addr().String(), d.Dst.Addr().String()
			}
			want := strings.Join([]string{
				fmt.Sprint(d.Src.Port()), fmt.Sprint(d.Dst.Port()), ip4src, ip4dst,
				fmt.Sprint(8 + len(d.Payload)), strings.Join(ann.Packets[i], ","), ip6src, ip6dst,
			}, "|")
			assert.Equal(t, want, lines[i], "packet %d", i)
		}
	})
	t.Run("checksums", func(t *testing.T) {
		out := tshark(t, path, "-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
			"-T", "fields", "-E", "separator=|", "-e", "ip.checksum.status", "-e", "udp.checksum.status", "-e", "_ws.expert.message")
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		require.Len(t, lines, len(dgs))
		for i, line := range lines {
			f := strings.Split(line, "|")
			require.Len(t, f, 3)
			if dgs[i].Src.Addr().Is4() {
				assert.Equal(t, "1", f[0], "packet %d: IPv4 checksum status (1 = good)", i)
			}
			assert.Equal(t, "1", f[1], "packet %d: UDP checksum status (1 = good)", i)
			assert.NotContains(t, strings.ToLower(f[2]), "bad checksum", "packet %d", i)
		}
		experts := tshark(t, path, "-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE", "-Y", "_ws.expert.severity >= warning")
		assert.Empty(t, experts, "no warnings or errors from tshark's dissectors")
	})
	t.Run("section comment", func(t *testing.T) {
		out, err := exec.Command("/usr/bin/capinfos", "-k", path).CombinedOutput()
		if err != nil {
			t.Skipf("capinfos: %v", err)
		}
		assert.Contains(t, string(out), ann.Section)
	})
}
