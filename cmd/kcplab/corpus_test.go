package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/miekg/dns"
	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/rtp"
	"github.com/pion/stun/v3"
	"github.com/quic-go/quic-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	kcp "github.com/xtaci/kcp-go/v5"

	"kcplab/capture"
	"kcplab/internal/traffictest"
	"kcplab/pcapfile"
)

// corpusTimeout bounds every exchange of the corpus test.
const corpusTimeout = 10 * time.Second

// relay is a UDP relay on loopback that records every datagram between its
// clients and the server behind it, as a capture on the client side would
// see them: client -> relay and relay -> client.
type relay struct {
	front  *net.UDPConn
	target netip.AddrPort
	mu     sync.Mutex
	dgs    []capture.Datagram
	backs  map[netip.AddrPort]*net.UDPConn // one back conn per client
	notify chan struct{}                   // a datagram was recorded (capacity 1)
	wg     sync.WaitGroup
	closed bool
}

// newRelay starts a relay to target; t.Cleanup stops it and waits for its goroutines.
func newRelay(t *testing.T, target netip.AddrPort) *relay {
	t.Helper()
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	r := &relay{front: front, target: target, backs: map[netip.AddrPort]*net.UDPConn{}, notify: make(chan struct{}, 1)}
	r.wg.Add(1)
	go r.forward()
	t.Cleanup(r.close)
	return r
}

// addr is the address clients send to.
func (r *relay) addr() netip.AddrPort { return r.front.LocalAddr().(*net.UDPAddr).AddrPort() }

// record keeps a copy of one datagram.
func (r *relay) record(src, dst netip.AddrPort, p []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dgs = append(r.dgs, capture.Datagram{Time: time.Now(), Src: src, Dst: dst, Payload: bytes.Clone(p)})
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// forward relays client datagrams to the target, each client through a back conn of its own.
func (r *relay) forward() {
	defer r.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, from, err := r.front.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		r.record(from, r.addr(), buf[:n])
		r.mu.Lock()
		back, ok := r.backs[from]
		if !ok && !r.closed {
			back, err = net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(r.target))
			if err == nil {
				r.backs[from] = back
				r.wg.Add(1)
				go r.backward(back, from)
			}
		}
		r.mu.Unlock()
		if back != nil {
			_, _ = back.Write(buf[:n])
		}
	}
}

// backward relays the target's answers to client.
func (r *relay) backward(back *net.UDPConn, client netip.AddrPort) {
	defer r.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, err := back.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ICMP port unreachable after the server closed
		}
		r.record(r.addr(), client, buf[:n])
		_, _ = r.front.WriteToUDPAddrPort(buf[:n], client)
	}
}

// close stops the relay and waits for its goroutines.
func (r *relay) close() {
	r.mu.Lock()
	r.closed = true
	for _, b := range r.backs {
		b.Close()
	}
	r.mu.Unlock()
	r.front.Close()
	r.wg.Wait()
}

// datagrams returns what the relay recorded so far.
func (r *relay) datagrams() []capture.Datagram {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]capture.Datagram(nil), r.dgs...)
}

// dnsTraffic runs a miekg/dns server and client: queries of several types,
// with and without EDNS0, answers up to about 1,400 bytes.
func dnsTraffic(t *testing.T) []capture.Datagram {
	t.Helper()
	pc := traffictest.Loopback(t)
	mux := dns.NewServeMux()
	mux.HandleFunc(".", func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		q := req.Question[0]
		for i := range 1 + int(req.Id%6) {
			switch q.Qtype {
			case dns.TypeA:
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(10, 0, 0, byte(i))})
			case dns.TypeAAAA:
				m.Answer = append(m.Answer, &dns.AAAA{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: 60}, AAAA: net.ParseIP(fmt.Sprintf("2001:db8::%d", i))})
			case dns.TypeTXT:
				m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: []string{strings.Repeat("kcplab", 30)}})
			case dns.TypeMX:
				m.Answer = append(m.Answer, &dns.MX{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeMX, Class: dns.ClassINET, Ttl: 60}, Preference: uint16(i), Mx: "mx.example.org."})
			}
		}
		if req.IsEdns0() != nil {
			m.SetEdns0(4096, false)
		}
		_ = w.WriteMsg(m)
	})
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: mux, NotifyStartedFunc: func() { close(started) }}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), corpusTimeout)
		defer cancel()
		_ = srv.ShutdownContext(ctx)
	})
	<-started
	r := newRelay(t, pc.LocalAddr().(*net.UDPAddr).AddrPort())
	c := &dns.Client{Net: "udp", Timeout: corpusTimeout, UDPSize: 4096}
	names := []string{"example.org.", "a.very.long.name.for.a.query.example.com.", "kcp.test.", "x."}
	types := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeTXT, dns.TypeMX}
	for i := range 48 {
		m := new(dns.Msg)
		m.SetQuestion(names[i%len(names)], types[(i/len(names))%len(types)])
		if i%3 == 0 {
			m.SetEdns0(4096, i%2 == 0)
		}
		_, _, err := c.Exchange(m, r.addr().String())
		require.NoError(t, err)
	}
	return r.datagrams()
}

// tlsCert is a self-signed certificate for QUIC and DTLS.
func tlsCert(t *testing.T) tls.Certificate {
	t.Helper()
	cert, err := selfsign.GenerateSelfSigned()
	require.NoError(t, err)
	return cert
}

// quicTraffic runs a quic-go handshake and an echo of 20 KB over one stream.
func quicTraffic(t *testing.T) []capture.Datagram {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), corpusTimeout)
	defer cancel()
	ln, err := quic.ListenAddr("127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{tlsCert(t)}, NextProtos: []string{"kcplab"}}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	done := make(chan error, 1)
	go func() {
		conn, err := ln.Accept(ctx)
		if err != nil {
			done <- err
			return
		}
		defer conn.CloseWithError(0, "")
		s, err := conn.AcceptStream(ctx)
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(s, s)
		s.Close()
		<-conn.Context().Done()
		done <- err
	}()
	r := newRelay(t, ln.Addr().(*net.UDPAddr).AddrPort())
	conn, err := quic.DialAddr(ctx, r.addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"kcplab"}}, nil)
	require.NoError(t, err)
	s, err := conn.OpenStreamSync(ctx)
	require.NoError(t, err)
	msg := bytes.Repeat([]byte("quic-kcplab "), 20000/12)
	go func() { _, _ = s.Write(msg); s.Close() }()
	got, err := io.ReadAll(s)
	require.NoError(t, err)
	assert.Equal(t, msg, got)
	require.NoError(t, conn.CloseWithError(0, "bye"))
	require.NoError(t, <-done)
	time.Sleep(20 * time.Millisecond)
	return r.datagrams()
}

// serveOne accepts one connection with accept and runs serve on it under a corpusTimeout deadline,
// then closes it; the channel gets serve's error, or accept's.
func serveOne(accept func() (net.Conn, error), serve func(net.Conn) error) <-chan error {
	done := make(chan error, 1)
	go func() {
		c, err := accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(corpusTimeout))
		done <- serve(c)
	}()
	return done
}

// dtlsTraffic runs a pion/dtls handshake and a few application messages.
func dtlsTraffic(t *testing.T) []capture.Datagram {
	t.Helper()
	cert := tlsCert(t)
	ln, err := dtls.Listen("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, &dtls.Config{Certificates: []tls.Certificate{cert}})
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	done := serveOne(ln.Accept, func(c net.Conn) error {
		buf := make([]byte, 2048)
		for range 5 {
			n, err := c.Read(buf)
			if err != nil {
				return err
			}
			if _, err := c.Write(buf[:n]); err != nil {
				return err
			}
		}
		return nil
	})
	r := newRelay(t, ln.Addr().(*net.UDPAddr).AddrPort())
	c, err := dtls.Dial("udp", net.UDPAddrFromAddrPort(r.addr()), &dtls.Config{InsecureSkipVerify: true})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(corpusTimeout)))
	buf := make([]byte, 2048)
	for i := range 5 {
		msg := bytes.Repeat([]byte{byte('a' + i)}, 1+i*250)
		_, err := c.Write(msg)
		require.NoError(t, err)
		n, err := c.Read(buf)
		require.NoError(t, err)
		require.Equal(t, msg, buf[:n])
	}
	require.NoError(t, <-done)
	return r.datagrams()
}

// answerUDP serves on a loopback socket until the test ends, writing back to each datagram's sender
// what answer returns for it (nothing for nil), and returns a relay in front of it.
func answerUDP(t *testing.T, answer func(req []byte, from netip.AddrPort) []byte) *relay {
	t.Helper()
	srv := traffictest.Loopback(t)
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := srv.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if resp := answer(buf[:n], from); resp != nil {
				_, _ = srv.WriteToUDPAddrPort(resp, from)
			}
		}
	}()
	return newRelay(t, srv.LocalAddr().(*net.UDPAddr).AddrPort())
}

// stunTraffic sends pion/stun binding requests with various attributes to a
// server that answers with XOR-MAPPED-ADDRESS, built with the same library.
func stunTraffic(t *testing.T) []capture.Datagram {
	t.Helper()
	r := answerUDP(t, func(req []byte, from netip.AddrPort) []byte {
		var m stun.Message
		if stun.Decode(req, &m) != nil {
			return nil
		}
		resp, err := stun.Build(stun.NewTransactionIDSetter(m.TransactionID), stun.BindingSuccess,
			&stun.XORMappedAddress{IP: from.Addr().AsSlice(), Port: int(from.Port())}, stun.NewSoftware("kcplab"), stun.Fingerprint)
		if err != nil {
			return nil
		}
		return resp.Raw
	})
	c := traffictest.Loopback(t)
	buf := make([]byte, 2048)
	for i := range 20 {
		setters := []stun.Setter{stun.TransactionID, stun.BindingRequest}
		if i%2 == 1 {
			setters = append(setters, stun.NewUsername(fmt.Sprintf("user%d:peer", i)), stun.NewSoftware("kcplab corpus"))
		}
		if i%4 == 3 {
			setters = append(setters, stun.NewShortTermIntegrity("secret"))
		}
		setters = append(setters, stun.Fingerprint)
		m, err := stun.Build(setters...)
		require.NoError(t, err)
		_, err = c.WriteToUDPAddrPort(m.Raw, r.addr())
		require.NoError(t, err)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(corpusTimeout)))
		n, _, err := c.ReadFromUDPAddrPort(buf)
		require.NoError(t, err)
		var resp stun.Message
		require.NoError(t, stun.Decode(buf[:n], &resp))
	}
	return r.datagrams()
}

// snmpTraffic runs gosnmp Get and GetBulk requests (v1 and v2c) against an
// agent that decodes them and answers with gosnmp's own encoder.
func snmpTraffic(t *testing.T) []capture.Datagram {
	t.Helper()
	dec := &gosnmp.GoSNMP{}
	r := answerUDP(t, func(raw []byte, _ netip.AddrPort) []byte {
		req, err := dec.SnmpDecodePacket(raw)
		if err != nil {
			return nil
		}
		resp := &gosnmp.SnmpPacket{Version: req.Version, Community: req.Community, PDUType: gosnmp.GetResponse, RequestID: req.RequestID}
		for i, v := range req.Variables {
			resp.Variables = append(resp.Variables,
				gosnmp.SnmpPDU{Name: v.Name, Type: gosnmp.OctetString, Value: strings.Repeat("kcplab ", 1+i*7)},
				gosnmp.SnmpPDU{Name: v.Name + ".1", Type: gosnmp.Counter32, Value: uint32(123456 * (i + 1))})
		}
		out, err := resp.MarshalMsg()
		if err != nil {
			return nil
		}
		return out
	})
	for _, version := range []gosnmp.SnmpVersion{gosnmp.Version1, gosnmp.Version2c} {
		c := &gosnmp.GoSNMP{Target: r.addr().Addr().String(), Port: r.addr().Port(), Community: "public",
			Version: version, Timeout: corpusTimeout, Retries: 0, MaxOids: gosnmp.MaxOids}
		require.NoError(t, c.Connect())
		for i := range 8 {
			oids := []string{"1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.2.2.1.10." + fmt.Sprint(i)}
			_, err := c.Get(oids[:1+i%3])
			require.NoError(t, err)
		}
		if version == gosnmp.Version2c {
			_, err := c.GetBulk([]string{"1.3.6.1.2.1.2.2"}, 0, 10)
			require.NoError(t, err)
		}
		require.NoError(t, c.Conn.Close())
	}
	return r.datagrams()
}

// rtpTraffic sends pion/rtp packets: several payload types and sizes, with
// and without CSRCs, extensions and padding, timestamps starting at random
// and at values whose first byte is a KCP cmd (0x51..0x54: one stream in 64
// starts so, and keeps it for hours), payloads of random bytes (codec data)
// and of G.711 silence.
func rtpTraffic(t *testing.T, rng *rand.Rand) []capture.Datagram {
	t.Helper()
	return sendEach(t, func(yield func([]byte) bool) {
		starts := []uint32{rng.Uint32(), 0x51000000, 0x52000000, 0x53ff0000, 0x54000000}
		for si, ts := range starts {
			ssrc := rng.Uint32()
			for i := range 60 {
				size := []int{0, 4, 12, 20, 160, 320, 1200}[i%7]
				payload := make([]byte, size)
				for j := range payload {
					switch (i + si) % 3 {
					case 0:
						payload[j] = byte(rng.Uint32()) // codec data
					case 1:
						payload[j] = 0xff // G.711 µ-law silence
					default:
						payload[j] = 0xd5 // G.711 A-law silence
					}
				}
				p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: []uint8{0, 8, 96, 111}[i%4], SequenceNumber: uint16(i),
					Timestamp: ts + uint32(i*160), SSRC: ssrc, Marker: i == 0}, Payload: payload}
				if i%5 == 1 {
					p.CSRC = []uint32{rng.Uint32(), rng.Uint32()}
				}
				if i%6 == 2 {
					require.NoError(t, p.SetExtension(1, []byte{0x10, 0x20}))
				}
				if i%9 == 4 {
					p.Padding, p.PaddingSize = true, 4
				}
				raw, err := p.Marshal()
				require.NoError(t, err)
				if !yield(raw) {
					return
				}
			}
		}
	})
}

// randomTraffic sends one datagram of random bytes of every size 0..1500.
func randomTraffic(t *testing.T, rng *rand.Rand) []capture.Datagram {
	t.Helper()
	return sendEach(t, func(yield func([]byte) bool) {
		for n := range 1501 {
			p := make([]byte, n)
			for i := range p {
				p[i] = byte(rng.Uint32())
			}
			if !yield(p) {
				return
			}
		}
	})
}

// sendEach sends each payload from one socket through a relay to a sink that never answers, one at a
// time (never overrunning the socket buffers), and returns what the relay recorded.
func sendEach(t *testing.T, payloads iter.Seq[[]byte]) []capture.Datagram {
	t.Helper()
	sink := traffictest.Loopback(t)
	r := newRelay(t, sink.LocalAddr().(*net.UDPAddr).AddrPort())
	c := traffictest.Loopback(t)
	sent := 0
	for p := range payloads {
		_, err := c.WriteToUDPAddrPort(p, r.addr())
		require.NoError(t, err)
		sent++
		waitCount(t, r, sent)
	}
	return r.datagrams()
}

// waitCount waits until r recorded n datagrams (at most corpusTimeout).
func waitCount(t *testing.T, r *relay, n int) {
	t.Helper()
	timer := time.NewTimer(corpusTimeout)
	defer timer.Stop()
	for {
		r.mu.Lock()
		got := len(r.dgs)
		r.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-r.notify:
		case <-timer.C:
			t.Fatalf("relay recorded %d of %d datagrams", got, n)
		}
	}
}

// kcpTraffic runs a kcp-go echo through a relay: plain (crypt nil, no FEC),
// FEC (shards > 0) or encrypted.
func kcpTraffic(t *testing.T, block kcp.BlockCrypt, ds, ps int) []capture.Datagram {
	t.Helper()
	srvUDP := traffictest.Loopback(t)
	ln, err := kcp.ServeConn(block, ds, ps, plainConn{srvUDP})
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	finished := make(chan struct{}) // the client read every echo: the server may Close
	done := serveOne(ln.Accept, func(s net.Conn) error {
		if err := traffictest.Echo(s, 40_000); err != nil {
			return err
		}
		// kcp-go drops what Close finds unsent: wait for the client
		select {
		case <-finished:
		case <-time.After(corpusTimeout):
		}
		return nil
	})
	r := newRelay(t, srvUDP.LocalAddr().(*net.UDPAddr).AddrPort())
	s, err := kcp.NewConn2(net.UDPAddrFromAddrPort(r.addr()), block, ds, ps, plainConn{traffictest.Loopback(t)})
	require.NoError(t, err)
	defer s.Close()
	s.SetNoDelay(1, 10, 2, 1)
	require.NoError(t, s.SetDeadline(time.Now().Add(corpusTimeout)))
	go func() { _, _ = s.Write(bytes.Repeat([]byte("kcp-corpus "), 40_000/11+1)) }()
	got := 0
	buf := make([]byte, 4096)
	for got < 40_000 {
		n, err := s.Read(buf)
		require.NoError(t, err)
		got += n
	}
	close(finished)
	require.NoError(t, <-done)
	time.Sleep(50 * time.Millisecond)
	return r.datagrams()
}

// plainConn hides the batch-IO methods of a *net.UDPConn from kcp-go.
type plainConn struct{ net.PacketConn }

// decodeCorpus writes dgs as a pcapng and returns the JSON objects of
// `kcplab decode -json ARGS FILE`, one per datagram (the first segment's).
func decodeCorpus(t *testing.T, name string, dgs []capture.Datagram, args ...string) []map[string]any {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".pcapng")
	require.NoError(t, pcapfile.WritePcapngFile(path, dgs, pcapfile.Annotations{}))
	code, out, errs := kcplab(t, append(append([]string{"decode", "-json"}, args...), path)...)
	require.Equal(t, 0, code, errs)
	var perDatagram []map[string]any
	last := -1.0
	for _, o := range jsonLines(t, out) {
		if f := o["frame"].(float64); f != last {
			perDatagram = append(perDatagram, o)
			last = f
		}
	}
	require.Len(t, perDatagram, len(dgs))
	return perDatagram
}

// TestCorpusNotKCP generates real traffic of other UDP protocols on loopback
// with their Go implementations (DNS: miekg/dns; QUIC: quic-go; DTLS:
// pion/dtls; STUN: pion/stun; SNMP: gosnmp; RTP: pion/rtp) and random bytes of every size
// 0..1500, and requires `kcplab decode` (framing auto) to call none of it KCP.
func TestCorpusNotKCP(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 11))
	var rngMu sync.Mutex
	protocols := []struct {
		name string
		gen  func(t *testing.T) []capture.Datagram
		min  int // datagrams at least
	}{
		{"dns", dnsTraffic, 96},
		{"quic", quicTraffic, 10},
		{"dtls", dtlsTraffic, 10},
		{"stun", stunTraffic, 40},
		{"snmp", snmpTraffic, 34},
		{"rtp", func(t *testing.T) []capture.Datagram {
			rngMu.Lock()
			defer rngMu.Unlock()
			return rtpTraffic(t, rng)
		}, 300},
		{"random", func(t *testing.T) []capture.Datagram {
			rngMu.Lock()
			defer rngMu.Unlock()
			return randomTraffic(t, rng)
		}, 1501},
	}
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			dgs := p.gen(t)
			require.GreaterOrEqual(t, len(dgs), p.min)
			sizes := map[int]bool{}
			for _, o := range decodeCorpus(t, p.name, dgs) {
				sizes[int(o["bytes"].(float64))] = true
				assert.Equal(t, "none", o["framing"], "frame %v (%v bytes) claimed as KCP: %v", o["frame"], o["bytes"], o)
			}
			t.Logf("%s: %d datagrams, %d sizes, none called KCP", p.name, len(dgs), len(sizes))
		})
	}
}

// TestCorpusKCP runs real kcp-go sessions in every framing through a relay
// and requires `kcplab decode` to decode every datagram of the plain and FEC
// sessions, and the encrypted session's only when its port is named.
func TestCorpusKCP(t *testing.T) {
	t.Parallel()
	aes, err := kcp.NewAESBlockCrypt([]byte("kcplab-corpus-test-key-32-bytes!"))
	require.NoError(t, err)
	tests := []struct {
		name   string
		block  kcp.BlockCrypt
		ds, ps int
		want   string
	}{
		{"plain", nil, 0, 0, "plain"},
		{"fec", nil, 10, 3, "fec"},
		{"encrypted", aes, 0, 0, "encrypted"},
		{"encrypted+fec", aes, 10, 3, "encrypted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dgs := kcpTraffic(t, tt.block, tt.ds, tt.ps)
			require.NotEmpty(t, dgs)
			port := fmt.Sprint(dgs[0].Dst.Port())
			if tt.want != "encrypted" {
				for _, o := range decodeCorpus(t, tt.name, dgs) {
					assert.Equal(t, tt.want, o["framing"], "frame %v: %v", o["frame"], o)
				}
				return
			}
			for _, o := range decodeCorpus(t, tt.name, dgs) {
				assert.Equal(t, "none", o["framing"], "frame %v: ciphertext claimed without a named port: %v", o["frame"], o)
			}
			for _, o := range decodeCorpus(t, tt.name, dgs, "-encrypted-port", port) {
				assert.Equal(t, "encrypted", o["framing"], "frame %v: %v", o["frame"], o)
			}
		})
	}
}
