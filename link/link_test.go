package link

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"

	"kcplab/internal/dir"
)

// TestWireJoin: the n-th datagram the wrapped conn receives from the link is the copy whose Wire is
// n, whatever the link did (jitter with reordering, duplicates, drops): the join a capture below the
// link relies on.
func TestWireJoin(t *testing.T) {
	t.Parallel()
	inner := &fakeConn{keep: true}
	l := newLink(t, "loss=10%,dup=20%,delay=2ms,jitter=2ms,reorder=true", 9, WithPayloads())
	w := l.Wrap(inner, dir.S2C)
	for i := range 2000 {
		if _, err := w.WriteTo(payload(uint64(i), 16+i%200), fakeDst); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	waitIdle(t, l, dir.S2C, 5*time.Second)
	wire := inner.copies()
	seen := 0
	for _, rec := range l.RecordsOf(dir.S2C) {
		if rec.Dir != dir.S2C || !bytes.Equal(rec.Payload, payload(rec.Index, 16+int(rec.Index)%200)) {
			t.Fatalf("record %d: dir %v, payload not the datagram's", rec.Index, rec.Dir)
		}
		for k, c := range rec.Copies[:rec.Copied] {
			if c.Fate != FateDelivered {
				t.Fatalf("record %d copy %d: %v", rec.Index, k, c.Fate)
			}
			if !bytes.Equal(wire[c.Wire], rec.Payload) {
				t.Fatalf("record %d copy %d: wire %d holds another datagram", rec.Index, k, c.Wire)
			}
			if c.Delivered.Before(rec.Sent.Add(c.Delay)) {
				t.Fatalf("record %d copy %d: delivered before its due time", rec.Index, k)
			}
			seen++
		}
	}
	if seen != len(wire) {
		t.Fatalf("%d copies recorded as delivered, %d written", seen, len(wire))
	}
	order := l.Wire(dir.S2C)
	if len(order) != len(wire) {
		t.Fatalf("Wire: %d copies, %d written", len(order), len(wire))
	}
	for n, wc := range order {
		if !bytes.Equal(wire[n], payload(wc.Index, 16+int(wc.Index)%200)) {
			t.Fatalf("Wire()[%d] = %+v, but the %d-th datagram written is another", n, wc, n)
		}
	}
	s := l.Stats(dir.S2C)
	if s.Delivered != uint64(len(wire)) || s.Sent != 2000 || s.Sent+s.Duplicated != s.Delivered+s.Dropped.Total() {
		t.Fatalf("stats %+v do not add up (%d written)", s, len(wire))
	}
	t.Logf("stats: %+v", s)
}

// TestLinkDeterminism: the same seed and sends give the same fates through Wrap; a direction's fates
// do not depend on the other direction's traffic.
func TestLinkDeterminism(t *testing.T) {
	t.Parallel()
	// c2sFates sends 5,000 datagrams c2s, each with s2cPerC2S (plus 0-2) s2c, and gives the c2s fates.
	c2sFates := func(s2cPerC2S int) func(seed uint64) []string {
		return func(seed uint64) []string {
			l := newLink(t, "loss=20%,burst=2,dup=10%,drop=3+17", seed)
			c, s := l.Wrap(&fakeConn{}, dir.C2S), l.Wrap(&fakeConn{}, dir.S2C)
			for i := range 5000 {
				c.WriteTo(payload(uint64(i), 32), fakeDst)
				for range s2cPerC2S + i%3 {
					s.WriteTo(payload(0, 32), fakeDst)
				}
			}
			var out []string
			for _, r := range l.RecordsOf(dir.C2S) {
				out = append(out, fmt.Sprint(r.Fate, r.Copied))
			}
			return out
		}
	}
	alone := requireSeeded(t, "c2s fates", c2sFates(0))
	if !slices.Equal(alone, c2sFates(5)(1)) {
		t.Fatal("c2s fates changed with the s2c traffic")
	}
}

// TestRecordString: the one-line descriptions used for capture comments.
func TestRecordString(t *testing.T) {
	t.Parallel()
	l := newLink(t, "drop=0,c2s.dup=100%", 1)
	c, s := l.Wrap(&fakeConn{}, dir.C2S), l.Wrap(&fakeConn{}, dir.S2C)
	for range 2 {
		c.WriteTo(make([]byte, 24), fakeDst)
		s.WriteTo(make([]byte, 10), fakeDst)
	}
	var got []string
	for _, r := range l.Records() {
		got = append(got, r.String())
	}
	want := []string{
		"link c2s #0 (24 B): dropped by the link (droplist)",
		"link s2c #0 (10 B): dropped by the link (droplist)",
		"link c2s #1 (24 B): delivered; duplicate: delivered",
		"link s2c #1 (10 B): delivered",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{C2S: DirConfig{Burst: Burst{4}}}, 1, time.Time{}); err == nil || !strings.Contains(err.Error(), "c2s: burst") {
		t.Errorf("New with burst and no loss: %v", err)
	}
	if _, err := New(Config{}, 1, time.Time{}, WithMaxPending(0)); err == nil {
		t.Error("New with max pending 0: no error")
	}
}

// TestOverflow: the link holds at most WithMaxPending copies per direction.
func TestOverflow(t *testing.T) {
	t.Parallel()
	l := newLink(t, "delay=1h", 1, WithMaxPending(10))
	w := l.Wrap(&fakeConn{}, dir.C2S)
	for i := range 15 {
		w.WriteTo(payload(uint64(i), 8), fakeDst)
	}
	if s := l.Stats(dir.C2S); s.Pending != 10 || s.Dropped.Overflow != 5 || l.Pending() != 10 {
		t.Fatalf("stats %+v, want 10 pending, 5 overflow", s)
	}
}

// TestKCPOverLink runs kcp-go over the link the way a trial does (ServeConn and NewConn4 on wrapped
// loopback sockets) with loss, delay, jitter and duplicates both ways: every message is echoed.
func TestKCPOverLink(t *testing.T) {
	t.Parallel()
	srvUDP, cliUDP := loopbackPair(t)
	l := newLink(t, "loss=10%,delay=5ms,jitter=2ms,dup=5%", 11)
	ln, err := kcp.ServeConn(nil, 0, 0, l.Wrap(srvUDP, dir.S2C))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s, err := ln.AcceptKCP()
		if err != nil {
			return
		}
		defer s.Close()
		s.SetNoDelay(1, 10, 2, 1)
		io.Copy(s, s)
	}()
	cli, err := kcp.NewConn4(1, srvUDP.LocalAddr().(*net.UDPAddr), nil, 0, 0, true, l.Wrap(cliUDP, dir.C2S))
	if err != nil {
		t.Fatal(err)
	}
	cli.SetNoDelay(1, 10, 2, 1)
	cli.SetDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 64)
	for i := range 30 {
		msg := fmt.Appendf(nil, "message %d", i)
		if _, err := cli.Write(msg); err != nil {
			t.Fatal(err)
		}
		n, err := cli.Read(buf)
		if err != nil || !bytes.Equal(buf[:n], msg) {
			t.Fatalf("echo %d: %q, %v", i, buf[:n], err)
		}
	}
	cli.Close()
	ln.Close()
	srvUDP.Close()
	wg.Wait()
	l.Close()
	for _, d := range dir.Both {
		s := l.Stats(d)
		t.Logf("%s: %d sent, %d delivered, %d lost, %d duplicated, mean added delay %v, %d closed in flight", d.Key(), s.Sent, s.Delivered, s.Dropped.Loss, s.Duplicated, s.MeanDelay, s.Closed)
		if s.Sent == 0 || s.Sent+s.Duplicated != s.Delivered+s.Dropped.Total()+s.Closed+s.Errors {
			t.Errorf("%s: stats do not add up: %+v", d.Key(), s)
		}
	}
}

// TestConcurrentWriters: several goroutines writing one direction at once (as a listener's sessions
// do) all get through, with and without a scheduler, and the records carry the addresses.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	for _, spec := range []string{"", "loss=5%", "delay=1ms", "jitter=1ms,reorder=true", "rate=100mbit"} {
		t.Run(spec, func(t *testing.T) {
			t.Parallel()
			inner := &fakeConn{}
			l := newLink(t, spec, 1)
			w := l.Wrap(inner, dir.S2C)
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 500 {
						w.WriteTo(payload(uint64(g*1000+i), 50), fakeDst)
					}
				}()
			}
			wg.Wait()
			waitIdle(t, l, dir.S2C, 5*time.Second)
			s := l.Stats(dir.S2C)
			if s.Sent != 2000 || s.Delivered+s.Dropped.Total() != 2000 || inner.count() != int(s.Delivered) {
				t.Fatalf("stats %+v, %d written", s, inner.count())
			}
			r := l.RecordsOf(dir.S2C)[0]
			if r.Dst != fakeDst.AddrPort() || r.Src != inner.LocalAddr().(*net.UDPAddr).AddrPort() {
				t.Fatalf("record addresses %v -> %v", r.Src, r.Dst)
			}
		})
	}
}

func TestSeedsAndSummary(t *testing.T) {
	t.Parallel()
	if TrialSeed(7, 3) != TrialSeed(7, 3) || TrialSeed(7, 3) == TrialSeed(7, 4) || TrialSeed(7, 3) == TrialSeed(8, 3) {
		t.Fatal("TrialSeed is not a deterministic function of both arguments")
	}
	if RandomSeed() == RandomSeed() {
		t.Fatal("RandomSeed repeated")
	}
	l := newLink(t, "c2s.drop=0", 5)
	l.Wrap(&fakeConn{}, dir.C2S).WriteTo([]byte("x"), fakeDst)
	js, err := json.Marshal(l.Summary())
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"seed":5,"spec":"c2s.drop=0","c2s":{"sent":1,"sent_bytes":1,"delivered":0,"delivered_bytes":0,"dropped":{"loss":0,"burst":0,"droplist":1,`; !strings.HasPrefix(string(js), want) {
		t.Fatalf("summary JSON %s", js)
	}
}

// TestLinkSeedReplays: a seed gives the same decisions in each direction as it always has, so that a
// trial's link seed in summary.json replays it. The golden strings were taken from the link as it was
// when they were written ('x' dropped, 'd' duplicated, '.' sent once).
func TestLinkSeedReplays(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, spec string
		want       [2]string // C2S, S2C
	}{
		{"bernoulli loss and dup", "loss=30%,dup=20%", [2]string{
			"..x.x.d..x..x...dxx..dx...xx.....d...dxx.......d",
			"..d.xxdx..x.....x.d.x.....d...x.x....x.d...x..d."}},
		{"burst loss", "loss=20%,burst=3", [2]string{
			"........xxx..............x......................",
			"...............xxxx............xxxxx............"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLink(t, tc.spec, 42)
			conns := [2]net.PacketConn{l.Wrap(&fakeConn{}, dir.C2S), l.Wrap(&fakeConn{}, dir.S2C)}
			for i := range 48 {
				for _, c := range conns {
					c.WriteTo(payload(uint64(i), 32), fakeDst)
				}
			}
			for i, d := range []dir.Dir{dir.C2S, dir.S2C} {
				var got strings.Builder
				for _, r := range l.RecordsOf(d) {
					switch {
					case r.Copied == 0:
						got.WriteByte('x')
					case r.Duplicated():
						got.WriteByte('d')
					default:
						got.WriteByte('.')
					}
				}
				if got.String() != tc.want[i] {
					t.Errorf("%s: got %s, want %s", d.Key(), got.String(), tc.want[i])
				}
			}
		})
	}
}
