package capture

import (
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
)

// errHubClosed is returned by Hub.Source after Hub.Close.
var errHubClosed = errors.New("capture: hub: closed")

// routeTable says which open Sources receive a datagram. It is immutable once
// published, so the reader looks it up without locking.
type routeTable struct {
	byPort map[uint16]*hubSource // a Source per registered port
}

// routes is the Hub's registration: copy-on-write under mu, read through cur.
type routes struct {
	mu     sync.Mutex
	closed bool
	cur    atomic.Pointer[routeTable]
}

// load returns the current table (never nil).
func (r *routes) load() *routeTable {
	if t := r.cur.Load(); t != nil {
		return t
	}
	return &routeTable{}
}

// add registers s for its ports. It
// registers all of them or, if one is 0 or already taken, none.
func (r *routes) add(s *hubSource) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errHubClosed
	}
	old := r.load()
	for _, p := range s.ports {
		if p == 0 {
			return errors.New("capture: hub: port 0 cannot be registered: pass the sockets' bound ports")
		}
		if _, taken := old.byPort[p]; taken {
			return fmt.Errorf("capture: hub: port %d is already registered by another open Source", p)
		}
	}
	next := &routeTable{byPort: maps.Clone(old.byPort)}
	if next.byPort == nil {
		next.byPort = map[uint16]*hubSource{}
	}
	for _, p := range s.ports {
		next.byPort[p] = s
	}
	r.cur.Store(next)
	return nil
}

// remove unregisters s; the reader stops handing it datagrams.
func (r *routes) remove(s *hubSource) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.load()
	next := &routeTable{byPort: maps.Clone(old.byPort)}
	maps.DeleteFunc(next.byPort, func(_ uint16, o *hubSource) bool { return o == s })
	r.cur.Store(next)
}

// close refuses further registrations.
func (r *routes) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
}
