package claims

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/hosts"
)

// needTshark returns tshark's path, or skips the test with the reason.
func needTshark(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark is not installed (make deps installs it): ", err)
	}
	return p
}

// hostCase runs c on the hosts path, keeping its records, and writes its pcapng.
func hostCase(t *testing.T, c Case) (Result, string) {
	t.Helper()
	if err := hosts.Available(); err != nil {
		t.Skip(err)
	}
	r := Run(context.Background(), c, true)
	require.NoError(t, r.Err)
	path := filepath.Join(t.TempDir(), "case.pcapng")
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, WritePcapng(f, c.Key(), []Result{r}))
	require.NoError(t, f.Close())
	return r, path
}

// tsharkFields runs tshark over path with a display filter and returns the fields of each packet.
func tsharkFields(t *testing.T, tshark, path, filter string, fields ...string) [][]string {
	t.Helper()
	args := []string{"-n", "-r", path, "-T", "fields", "-E", "separator=,"}
	if filter != "" {
		args = append(args, "-Y", filter)
	}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, tshark, args...).Output()
	require.NoError(t, err)
	var rows [][]string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			rows = append(rows, strings.Split(l, ","))
		}
	}
	return rows
}

// TestTCPRetransmissionsCoverTheLinksDrops checks TCP against the link with an independent tool:
// every data segment the link dropped is sent again, in a segment tshark marks as a retransmission;
// and the analysis of the claims (tcpRetransOf) against tshark's: the same data segments, the same
// sent again.
func TestTCPRetransmissionsCoverTheLinksDrops(t *testing.T) {
	tshark := needTshark(t)
	for _, c := range []Case{
		{Workload: Echo{Count: 100, Size: 208, Every: 10 * time.Millisecond}, Transport: TCP, Path: Hosts, Link: "delay=5ms,c2s.loss=10%", Seed: 3},
		{Workload: Bulk{Bytes: 256 << 10}, Transport: TCP, Path: Hosts, Link: "rate=20mbit,queue=100pkt,delay=5ms,c2s.loss=5%", Seed: 3},
	} {
		t.Run(c.Workload.Name(), func(t *testing.T) {
			r, path := hostCase(t, c)
			type seg struct {
				src  string
				seq  uint32
				size uint32
			}
			var dropped []seg
			for _, rec := range r.Records {
				p := rec.Payload
				if !rec.Fate.Dropped() || len(p) < 40 || p[9] != 6 { // dropped by an impairment, not left in the link at its Close
					continue
				}
				ihl := int(p[0]&0x0f) * 4
				doff := int(p[ihl+12]>>4) * 4
				size := int(binary.BigEndian.Uint16(p[2:4])) - ihl - doff
				if size > 0 {
					dropped = append(dropped, seg{netipString(p[12:16]), binary.BigEndian.Uint32(p[ihl+4:]), uint32(size)})
				}
			}
			require.NotEmpty(t, dropped, "the link dropped no data segment: the test checks nothing")
			// The capture is the senders' (before the link), where a segment below the highest sequence
			// number sent is sent again; tshark calls it a retransmission, or out-of-order when it comes
			// sooner after the original than its RTT estimate. One pass over the data segments gives
			// each one's flags: retransmission, fast, spurious, out-of-order.
			segs := tsharkFields(t, tshark, path, "tcp.len > 0", "ip.src", "tcp.seq_raw", "tcp.len",
				"tcp.analysis.retransmission", "tcp.analysis.fast_retransmission", "tcp.analysis.spurious_retransmission", "tcp.analysis.out_of_order")
			var again [][]string
			spurious := 0
			for _, row := range segs {
				if slices.Contains(row[3:], "1") {
					again = append(again, row)
				}
				if row[5] == "1" {
					spurious++
				}
			}
			for _, d := range dropped {
				covered := false
				for _, row := range again {
					seq, _ := strconv.ParseUint(row[1], 10, 32)
					n, _ := strconv.ParseUint(row[2], 10, 32)
					if row[0] == d.src && uint32(seq) <= d.seq && d.seq < uint32(seq)+uint32(n) {
						covered = true
						break
					}
				}
				require.True(t, covered, "dropped segment %+v: no retransmission of it in tshark's %d", d, len(again))
			}
			// tshark's counts of data segments and of those sent again are the analysis's
			// (tcpretrans.go), and what it calls spurious (data the capture showed ACKed before)
			// followed a delivered copy.
			assert.Len(t, segs, r.Retrans.Segments, "data segments: tshark's, then tcpRetransOf's")
			assert.Len(t, again, r.Retrans.Again, "data segments sent again: tshark's, then tcpRetransOf's")
			assert.LessOrEqual(t, spurious, r.Retrans.AfterDelivered, "tshark's spurious retransmissions, then tcpRetransOf's copies after a delivered one")
			t.Logf("link dropped %d data segment(s); tshark marks %d of %d sent again (%d spurious); the analysis: %+v",
				len(dropped), len(again), len(segs), spurious, r.Retrans)
		})
	}
}

// TestKCPBytesMatchThePcapng checks KCP's own count of what it wrote against the pcapng, read by
// tshark: the same datagrams, the same IP bytes.
func TestKCPBytesMatchThePcapng(t *testing.T) {
	tshark := needTshark(t)
	c := Case{Workload: Echo{Count: 100, Size: 208, Every: 10 * time.Millisecond}, Transport: KCP(ModeFast), Path: Hosts,
		Link: "delay=5ms,c2s.loss=10%", Seed: 3}
	r, path := hostCase(t, c)
	// An ICMP port unreachable (for a datagram that reached a closed socket) quotes a UDP header: not KCP's.
	rows := tsharkFields(t, tshark, path, "udp && !icmp", "frame.len")
	var bytes int64
	for _, row := range rows {
		n, err := strconv.ParseInt(row[0], 10, 64)
		require.NoError(t, err)
		bytes += n
	}
	k := r.KCPSent
	require.EqualValues(t, k[0].Datagrams+k[1].Datagrams, len(rows))
	require.Equal(t, k[0].Bytes+k[1].Bytes+udpIPHeader*int64(len(rows)), bytes)
	require.Equal(t, r.WireBytes, bytes)
}

// netipString renders 4 address bytes as tshark does.
func netipString(b []byte) string {
	return strconv.Itoa(int(b[0])) + "." + strconv.Itoa(int(b[1])) + "." + strconv.Itoa(int(b[2])) + "." + strconv.Itoa(int(b[3]))
}
