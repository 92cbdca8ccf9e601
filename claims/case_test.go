package claims

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"kcplab/hosts"
)

// TestRunEachTransport runs a short case of each transport on each path it takes: every check holds
// (every message echoed, KCP's writes equal to what the link carried, every dropped PUSH or TCP byte
// sent again), the link dropped some, and the retransmission analysis saw the data segments.
func TestRunEachTransport(t *testing.T) {
	echo := Echo{Count: 50, Size: 208, Every: 5 * time.Millisecond}
	cases := []Case{
		{Workload: echo, Transport: KCP(ModeFast), Path: Loopback, Link: "delay=10ms,loss=5%", Seed: 1},
		{Workload: echo, Transport: KCP(ModeNormal), Path: Hosts, Link: "delay=10ms,loss=5%", Seed: 1},
		{Workload: echo, Transport: TCP, Path: Hosts, Link: "delay=10ms,loss=5%", Seed: 1},
		{Workload: Bulk{Bytes: 1 << 20}, Transport: TCP, Path: Hosts, Link: "rate=20mbit,delay=5ms,loss=1%", Seed: 1},
		{Workload: Bulk{Bytes: 1 << 20}, Transport: KCP(ModeFast), Path: Hosts, Link: "rate=20mbit,delay=5ms,loss=1%", Seed: 1},
	}
	for _, c := range cases {
		t.Run(c.Key(), func(t *testing.T) {
			if c.Path == Hosts {
				if err := hosts.Available(); err != nil {
					t.Skip(err)
				}
			}
			r := Run(context.Background(), c, false)
			require.NoError(t, r.Err)
			if e, ok := c.Workload.(Echo); ok {
				require.Len(t, r.Measured.RTTs, e.Count)
			} else {
				require.Positive(t, r.Measured.Complete)
			}
			require.Positive(t, r.Drops[0], "the link dropped nothing: the case checks no recovery")
			require.Positive(t, r.Retrans.Segments, "the retransmission analysis saw no data segment")
			t.Logf("rtts %d missing %d complete %v wire %d packets %d other %d drops %v retrans %+v tcp %+v took %v", len(r.Measured.RTTs), r.Measured.Missing, r.Measured.Complete, r.WireBytes, r.Packets, r.Other, r.Drops, r.Retrans, r.TCP, r.Took)
		})
	}
}
