package link_test

import (
	"fmt"
	"net"
	"time"

	"kcplab/internal/dir"
	"kcplab/link"
)

func ExampleParse() {
	cfg, err := link.Parse("loss=10%,delay=30ms,jitter=10ms,s2c.blackhole=2s..")
	if err != nil {
		fmt.Println(err) // a *link.SpecError naming the bad key or value: exit 2
		return
	}
	fmt.Println(cfg)
	fmt.Println(cfg.S2C.Blackholes[0].From, cfg.C2S.Loss.Probability)
	_, err = link.Parse("loss=10%,delya=30ms")
	fmt.Println(err)
	// Output:
	// loss=10%,delay=30ms,jitter=10ms,s2c.blackhole=2s..
	// 2s 0.1
	// link: "delya": unknown key (want loss, burst, drop, delay, jitter, reorder, dup, rate, queue, blackhole, each optionally prefixed c2s. or s2c.)
}

// How a trial puts a link between its sockets and kcp-go: the link wraps the capture's wrapper, so a
// capture (the tap or libpcap) sees what crossed the wire, and the link's records say what each side
// sent and what the link did with it.
func ExampleLink_Wrap() {
	l, _ := link.New(link.MustParse("loss=10%,delay=30ms"), 42, time.Now())
	defer l.Close() // deferred first, so it runs after the sockets' Close

	srv, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	cli, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer srv.Close()
	defer cli.Close()
	srvConn := l.Wrap(srv, dir.S2C) // e.g. l.Wrap(src.Wrap(srv, dir.S2C), dir.S2C)
	cliConn := l.Wrap(cli, dir.C2S) // then kcp.ServeConn(..., srvConn) and kcp.NewConn4(..., cliConn)
	_, _ = srvConn, cliConn

	// After the trial: l.Records() (one per WriteTo, with fates, delays and Wire indexes for the join
	// with the capture) and l.Summary() (seed, canonical SPEC, Stats per direction).
}
