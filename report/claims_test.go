package report

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"kcplab/claims"
)

// TestClaimsBlockShowsTheVerdicts renders a synthetic run: the mode table row carries its verdict,
// each claim's line the verdict the figures give, and KCP's and TCP's rows their retransmissions (TCP
// with no spurious share: it has no ACKs that show one).
func TestClaimsBlockShowsTheVerdicts(t *testing.T) {
	t.Parallel()
	cond := claims.InteractiveConditions[3]
	mk := func(tr claims.Transport, path claims.Path, link string, w claims.Workload, seeds map[uint64]claims.Seed) *claims.Figures {
		return &claims.Figures{Case: claims.Case{Workload: w, Transport: tr, Path: path, Link: link}, PerSeed: seeds, MinRTO: true,
			Avg: claims.Interval{Mean: 140, Lo: 130, Hi: 150, N: 3}, Max: claims.Interval{Mean: 380, Lo: 370, Hi: 400, N: 3}}
	}
	tcp := map[uint64]claims.Seed{1: {Avg: 100, Max: 900, Overhead: 1.2}, 2: {Avg: 110, Max: 1000, Overhead: 1.2}, 3: {Avg: 90, Max: 800, Overhead: 1.2}}
	fast := map[uint64]claims.Seed{1: {Avg: 50, Max: 100, Overhead: 1.6}, 2: {Avg: 55, Max: 110, Overhead: 1.6}, 3: {Avg: 45, Max: 90, Overhead: 1.6}}
	figs := []*claims.Figures{
		mk(claims.KCP(claims.ModeFast), claims.Loopback, claims.ModeTableLink, claims.ModeTableEcho, nil),
		mk(claims.TCP, claims.Hosts, cond.Link, claims.InteractiveEcho, tcp),
		mk(claims.KCP(claims.ModeFast), claims.Hosts, cond.Link, claims.InteractiveEcho, fast),
	}
	figs[1].TCP = &claims.TCPInfo{Kernel: "6.1", Congestion: "cubic", NoDelay: true}
	figs[2].Again, figs[2].Spurious = claims.Interval{Mean: 12, Lo: 10, Hi: 14, N: 3}, claims.Interval{Mean: 5, Lo: 4, Hi: 6, N: 3}
	figs[2].AfterDelivered = claims.Interval{Mean: 5.5, Lo: 4.5, Hi: 6.5, N: 3}
	figs[1].Again, figs[1].AfterDelivered = claims.Interval{Mean: 1, Lo: 0, Hi: 2, N: 3}, claims.Interval{Mean: 0.2, Lo: 0.1, Hi: 0.3, N: 3}
	figs[0].Again, figs[0].Spurious = claims.Interval{Mean: 11, Lo: 9, Hi: 13, N: 3}, claims.Interval{Mean: 6, Lo: 5, Hi: 7, N: 3}
	figs[0].AfterDelivered = claims.Interval{Mean: 8, Lo: 7, Hi: 9, N: 3}
	out := ClaimsBlock(figs, ClaimsMeta{Command: "make claims", KCPGo: "v5.7.6", Seeds: 3})
	for _, want := range []string{
		"| fast nodelay(2,10,2,1), kcp-go v5.7.6 | 138 / 392 | 140.0 [130.0, 150.0] |",
		"| 11.0 [9.0, 13.0] | 8.0 [7.0, 9.0] | 6.0 [5.0, 7.0] | reproduced |", // [130, 150] lies in 138±17.25, [370, 400] in 392±49
		"| average latency | 30-40% lower than TCP | fast | holds |",
		"| maximum latency | 3x lower than TCP | fast | holds |",
		"| bandwidth, interactive | 10-20% more than TCP (at most 20%) | fast | does not hold |",
		"congestion control cubic",
		"| " + claims.InteractiveEcho.Name() + " | " + cond.Name + " | kcp fast | 12.0 [10.0, 14.0] | 5.5 [4.5, 6.5] | 5.0 [4.0, 6.0] |",
		"| " + claims.InteractiveEcho.Name() + " | " + cond.Name + " | tcp | 1.0 [0.0, 2.0] | 0.2 [0.1, 0.3] | – |",
	} {
		require.True(t, strings.Contains(out, want), "missing %q in:\n%s", want, out)
	}
}

// TestModeVerdictNamesTheFigures: a row that is not reproduced names each figure that decides it with
// its ratio to the published one, and one that is inconclusive the figure that straddles.
func TestModeVerdictNamesTheFigures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		avg, max claims.Verdict
		want     string
	}{
		{"both hold", claims.Holds, claims.Holds, "reproduced"},
		{"both out", claims.DoesNotHold, claims.DoesNotHold, "not reproduced: avg 1.50x the published, max 2.00x the published"},
		{"max out, avg straddles", claims.Inconclusive, claims.DoesNotHold, "not reproduced: avg inconclusive, max 2.00x the published"},
		{"max straddles", claims.Holds, claims.Inconclusive, "inconclusive: max 2.00x the published"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &claims.Figures{Avg: claims.Interval{Mean: 150}, Max: claims.Interval{Mean: 800}}
			mc := claims.ModeCheck{Figures: f, PublishedAvg: 100, PublishedMax: 400, Avg: tc.avg, Max: tc.max}
			require.Equal(t, tc.want, modeVerdict(mc))
		})
	}
}
