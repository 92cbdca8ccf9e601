package harness

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Env is the experimenter's hand in a running trial: what a role can do to the trial's processes
// besides using its session. A role gets it from the net.Conn it was handed (EnvOf); every role of
// a trial gets the same Env.
//
//   - KillServer: the server's process vanishes: its socket is closed under the listener and its
//     sessions, nobody calls Close; nothing more is sent from the server's port, and what arrives
//     there is refused by the kernel (an ICMP port unreachable that the tap does not record).
//   - RestartServer: a new listener on a fresh socket bound to the server's same address, captured
//     and linked like the first; its sessions run the experiment's Server role and are numbered on
//     after the old ones (Event.Session, Trace.Accepts).
//   - Redial: a new client session, with a fresh conv, on a fresh socket bound to the client's same
//     address; its events carry Session 2 for the first Redial, 3 for the next... (the trial's dialed
//     session's carry 0; see Trace.ClientEvents).
//
// The addresses stay the trial's (Trace.Client, Trace.Server), so the ladder's directions hold. What
// Env creates is closed by the trial's teardown: the redialed sessions that are still open (then the
// wire must go quiet again), the restarted listeners and their sessions, the sockets. Once teardown
// has begun, every method returns ErrTornDown. The actions are events of the trial (EvKill,
// EvRestart, EvDial), so they show in the timeline and the pcapng comments.
type Env struct {
	lc               *Lifecycle // the trial's roles and steps: Env listens and dials through them
	srvAddr, cliAddr netip.AddrPort

	mu       sync.Mutex
	done     bool             // teardown has begun
	srvSock  *net.UDPConn     // the current listener's socket; nil once killed
	silent   *net.UDPConn     // with NoListener: the server's bound socket nobody reads, until RestartServer
	cliSock  *net.UDPConn     // the current client session's socket
	socks    []*net.UDPConn   // sockets Env opened, closed at teardown
	strays   []netip.AddrPort // the addresses of the stray sockets among them (StraySocket)
	clients  []*recConn       // client sessions Redial made
	restarts int              // how many times RestartServer ran
}

// ErrTornDown is what an Env method returns once the trial's teardown has begun.
var ErrTornDown = errors.New("harness: the trial is being torn down")

// EnvOf returns the Env of the trial whose role was handed conn (as the harness handed it: a role that
// wraps its conn must keep the original to call EnvOf on).
func EnvOf(conn net.Conn) (*Env, bool) {
	if c, ok := conn.(*recConn); ok && c.env != nil {
		return c.env, true
	}
	return nil, false
}

// KillServer makes the server's process vanish: it closes the listener's socket, without any
// session's or the listener's Close. kcp-go's read loop on that socket then fails, which ends the
// listener's Accept (its accept loop) and fails the old sessions' Reads; what they flush later fails
// on the closed socket and never reaches the wire. It returns an error when the server is already
// dead (or the experiment has NoListener).
func (env *Env) KillServer() error {
	env.mu.Lock()
	defer env.mu.Unlock()
	if env.done {
		return ErrTornDown
	}
	if env.srvSock == nil {
		return errors.New("harness: KillServer: no server is running")
	}
	err := env.srvSock.Close()
	env.srvSock = nil
	env.lc.log.add(Event{Side: Server, Kind: EvKill, Err: err})
	return err
}

// RestartServer starts a new listener on the server's address, after KillServer (or, with NoListener,
// at any time: the server starts late; the silent socket that held the port is closed first): a fresh
// socket bound to the same port, wrapped by the capture (and the link, if any) and served like the first one. The
// sessions it accepts run the experiment's Server role, are recorded as server#N numbered on after the
// old ones, and are closed at the trial's teardown.
func (env *Env) RestartServer() error {
	env.mu.Lock()
	defer env.mu.Unlock()
	if env.done {
		return ErrTornDown
	}
	if env.srvSock != nil {
		return errors.New("harness: RestartServer: the server is still running (KillServer first)")
	}
	if env.silent != nil {
		_ = env.silent.Close()
		env.silent = nil
	}
	sock, err := bindAgain(env.srvAddr)
	if err != nil {
		return fmt.Errorf("harness: RestartServer: %w", err)
	}
	env.socks = append(env.socks, sock)
	if err := env.lc.listen(env.lc.wrap(sock, Server), env); err != nil {
		return fmt.Errorf("harness: RestartServer: listen: %w", err)
	}
	env.srvSock = sock
	env.restarts++
	env.lc.log.add(Event{Side: Server, Kind: EvRestart})
	return nil
}

// Redial starts a new client session to the server from the client's address, with a fresh random
// conv, and returns it recorded as the client's next session (Session 2, 3, ...). The socket of the
// client's current session is closed first if its session left it open, as if the client's process had
// vanished (call Close on the old conn before Redial for an orderly end); then a fresh socket is bound
// to the same port, wrapped by the capture and the link, and the session is dialed on it. The session
// owns that socket; the trial's teardown closes the session if the role left it open.
func (env *Env) Redial() (net.Conn, error) {
	env.mu.Lock()
	defer env.mu.Unlock()
	if env.done {
		return nil, ErrTornDown
	}
	_ = env.cliSock.Close() // already closed by the old session's Close, or closed here under it
	sock, err := bindAgain(env.cliAddr)
	if err != nil {
		return nil, fmt.Errorf("harness: Redial: %w", err)
	}
	env.socks = append(env.socks, sock)
	env.cliSock = sock
	session := len(env.clients) + 2
	c, _, err := env.lc.session(env.srvAddr, env.lc.wrap(sock, Client), session, env)
	if err != nil {
		return nil, fmt.Errorf("harness: Redial: %w", err)
	}
	env.clients = append(env.clients, c)
	env.lc.log.add(Event{Side: Client, Session: session, Kind: EvDial})
	return c, nil
}

// bindAgain binds a fresh UDP socket to addr, a port the trial holds (trialPorts) whose socket was just
// closed. Another trial of this process may hold it for a moment (trialSockets takes ports from the
// kernel and gives back those a running trial holds), so it tries again for up to a second.
func bindAgain(addr netip.AddrPort) (*net.UDPConn, error) {
	deadline := time.Now().Add(time.Second)
	for {
		sock, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(addr))
		if err == nil {
			return sock, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// newEnv is the Env of the trial whose roles lc runs, whose server socket is srvSock (read by the
// first listener, or by nobody with NoListener) and whose dialed session owns cliSock.
func newEnv(lc *Lifecycle, srvSock, cliSock *net.UDPConn) *Env {
	env := &Env{lc: lc, srvSock: srvSock, cliSock: cliSock,
		srvAddr: srvSock.LocalAddr().(*net.UDPAddr).AddrPort(), cliAddr: cliSock.LocalAddr().(*net.UDPAddr).AddrPort()}
	if lc.e.NoListener {
		env.srvSock, env.silent = nil, srvSock
	}
	return env
}

// closeClients begins the teardown: no method works after it. It closes the redialed client sessions
// the role left open and then waits for the wire to be quiet again (their Close may flush), bounded
// like the trial's own wait after the first session's Close.
func (env *Env) closeClients(quiet time.Duration) error {
	env.mu.Lock()
	env.done = true
	clients := env.clients
	env.mu.Unlock()
	closed := false
	for _, c := range clients {
		if !c.closed.Load() {
			c.Close()
			closed = true
		}
	}
	if !closed {
		return nil
	}
	return env.lc.settleAgain(quiet)
}

// strayAddrs returns the addresses of the stray sockets the trial's roles opened.
func (env *Env) strayAddrs() []netip.AddrPort {
	env.mu.Lock()
	defer env.mu.Unlock()
	return slices.Clone(env.strays)
}

// closeSockets closes the sockets Env opened, after every session on them is closed.
func (env *Env) closeSockets() {
	env.mu.Lock()
	socks := env.socks
	env.socks = nil
	env.mu.Unlock()
	for _, s := range socks {
		_ = s.Close()
	}
}

// ClientEvents returns the events of one client session: 1 is the trial's dialed session, 2 the first
// Redial's, and so on (0: all of them, as EventsOf(Client, 0)).
func (tr *Trace) ClientEvents(session int) []Event {
	var out []Event
	for _, e := range tr.Events {
		if e.Side != Client {
			continue
		}
		if s := max(e.Session, 1); session == 0 || s == session {
			out = append(out, e)
		}
	}
	return out
}

// EventAt returns the time, from the trial's start, of the first event that matches, and whether
// there is one.
func (tr *Trace) EventAt(match func(Event) bool) (time.Duration, bool) {
	for _, e := range tr.Events {
		if match(e) {
			return tr.Rel(e.Time), true
		}
	}
	return 0, false
}
