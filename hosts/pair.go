package hosts

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"kcplab/internal/dir"
	"kcplab/link"
)

// The two hosts of a Pair: the client's and the server's addresses, each the other's only route.
var (
	ClientAddr = netip.MustParseAddr("198.18.0.1")
	ServerAddr = netip.MustParseAddr("198.18.0.2")
)

// MTU is the TUN devices' MTU: Ethernet's, so TCP's segments and KCP's datagrams are the sizes they
// are on a real path.
const MTU = 1500

// tunName names both TUN devices (each in its own namespace).
const tunName = "kt0"

// Pair is two hosts (namespaces) joined by TUN devices through a link that this process runs: what
// the client's kernel routes to ServerAddr goes through the link's C2S impairments into the server's
// namespace, and back through S2C. The link records every packet with its payload (Link.Records).
type Pair struct {
	Client, Server *Namespace
	Link           *link.Link

	tuns      [2]*TUN // [client, server]
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
	fwdErr    [2]error
}

// NewPair makes the two namespaces and their TUN devices, and starts moving packets between them
// through a link with the impairments of cfg and the given seed. Close undoes all of it.
func NewPair(cfg link.Config, seed uint64) (p *Pair, err error) {
	p = &Pair{}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if p.Client, err = NewNamespace("client"); err != nil {
		return nil, err
	}
	if p.Server, err = NewNamespace("server"); err != nil {
		return nil, err
	}
	if p.tuns[0], err = OpenTUN(p.Client, tunName, ClientAddr, ServerAddr, MTU); err != nil {
		return nil, err
	}
	if p.tuns[1], err = OpenTUN(p.Server, tunName, ServerAddr, ClientAddr, MTU); err != nil {
		return nil, err
	}
	if p.Link, err = link.New(cfg, seed, time.Now(), link.WithPayloads()); err != nil {
		return nil, err
	}
	// What the client's TUN yields is written to the server's, as direction C2S, and back as S2C.
	toServer := p.Link.Wrap(p.tuns[1], dir.C2S)
	toClient := p.Link.Wrap(p.tuns[0], dir.S2C)
	p.wg.Add(2)
	go p.forward(0, toServer)
	go p.forward(1, toClient)
	return p, nil
}

// forward moves the packets that tun i yields to out until the device closes.
func (p *Pair) forward(i int, out net.PacketConn) {
	defer p.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, _, err := p.tuns[i].ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				p.fwdErr[i] = err
			}
			return
		}
		if _, err := out.WriteTo(buf[:n], nil); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrClosed) {
			p.fwdErr[i] = err
			return
		}
	}
}

// Close stops the forwarding, the link and deletes the namespaces (and their devices). Packets still
// in the link are recorded as closed. Close is idempotent.
func (p *Pair) Close() error {
	p.closeOnce.Do(func() {
		var errs []error
		for _, t := range p.tuns {
			if t != nil {
				errs = append(errs, t.Close())
			}
		}
		p.wg.Wait()
		if p.Link != nil {
			errs = append(errs, p.Link.Close())
		}
		for _, n := range []*Namespace{p.Client, p.Server} {
			if n != nil {
				errs = append(errs, n.Close())
			}
		}
		for i, e := range p.fwdErr {
			if e != nil {
				errs = append(errs, fmt.Errorf("hosts: forwarding from the %s's TUN: %w", [2]string{"client", "server"}[i], e))
			}
		}
		p.closeErr = errors.Join(errs...)
	})
	return p.closeErr
}
