package experiments

// net/http over a kcp-go session (p004, p004-keepalive): an http.Server serving the one session a
// server role is handed, an http.Client whose Transport dials the client role's session, and what they
// tell of how the server's role ended.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"kcplab/harness"
)

const (
	httpIdle    = time.Second             // the server's IdleTimeout (and ReadHeaderTimeout)
	httpTimeout = time.Second             // the client's timeout for the whole request
	httpBound   = 1500 * time.Millisecond // the server role closes a session net/http still holds
)

// errHTTPHung is what the server role returns when net/http still held the session at httpBound.
var errHTTPHung = errors.New("net/http still held the session")

// httpServerHung checks whether the first session's server role ended with errHTTPHung (want true)
// or with net/http closing the session itself (want false).
func httpServerHung(want bool) harness.Check {
	name := "net/http closed the session itself"
	if want {
		name = fmt.Sprintf("net/http still held the session after %v", httpBound)
	}
	return harness.Check{Name: name, Fn: func(tr *harness.Trace) error {
		if len(tr.ServerErr) == 0 {
			return errors.New("no session was accepted")
		}
		if got := errors.Is(tr.ServerErr[0], errHTTPHung); got != want {
			return fmt.Errorf("the server role returned %v", tr.ServerErr[0])
		}
		return nil
	}}
}

// dumpRequest answers a small JSON dump of the request.
func dumpRequest(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "url": r.URL.String(), "proto": r.Proto, "header": r.Header})
}

// httpServer serves HTTP on the one session until net/http closes it, or closes it after httpBound.
func httpServer(conn net.Conn) error {
	c := newCloseConn(conn)
	srv := &http.Server{Handler: http.HandlerFunc(dumpRequest), ReadHeaderTimeout: httpIdle, IdleTimeout: httpIdle,
		ErrorLog: log.New(io.Discard, "", 0)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(newOneConnListener(c)) }()
	var err error
	select {
	case <-c.done:
	case <-time.After(httpBound):
		err = fmt.Errorf("%w after %v", errHTTPHung, httpBound)
	}
	_ = srv.Close() // closes the listener and, after a hang, the session
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// httpClient GETs a JSON dump over the trial's session. Without keep-alives it waits (bounded) for
// the Transport to close the session; with them, it returns and leaves the session idle in the pool.
func httpClient(keepAlive bool) harness.Role {
	return func(conn net.Conn) error {
		c := newCloseConn(conn)
		var dialed atomic.Bool
		tr := &http.Transport{
			DialContext: func(context.Context, string, string) (net.Conn, error) {
				if dialed.Swap(true) {
					return nil, errors.New("the trial's session was already dialed")
				}
				return c, nil
			},
			DisableKeepAlives: !keepAlive,
		}
		client := &http.Client{Transport: tr, Timeout: httpTimeout}
		resp, err := client.Get("http://" + conn.RemoteAddr().String() + "/echo")
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return err
		}
		var dump struct{ Method string }
		if err := json.Unmarshal(body, &dump); err != nil || resp.StatusCode != http.StatusOK || dump.Method != http.MethodGet {
			return fmt.Errorf("unexpected response %s %q (%v)", resp.Status, body, err)
		}
		if keepAlive {
			return nil
		}
		select {
		case <-c.done:
			return nil
		case <-time.After(httpTimeout):
			return errors.New("the Transport did not close the session")
		}
	}
}

// closeConn is a net.Conn that closes done on its first Close, so a role can wait for net/http to
// close the session it was handed.
type closeConn struct {
	net.Conn
	once sync.Once
	done chan struct{}
}

func newCloseConn(c net.Conn) *closeConn { return &closeConn{Conn: c, done: make(chan struct{})} }

// Close closes the session once and reports it on done; later calls return net.ErrClosed.
func (c *closeConn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		err = c.Conn.Close()
		close(c.done)
	})
	return err
}

// oneConnListener is a net.Listener that hands out one connection, then blocks in Accept until closed:
// it lets an http.Server serve the single session a role is given.
type oneConnListener struct {
	conns chan net.Conn
	addr  net.Addr
	once  sync.Once
	done  chan struct{}
}

func newOneConnListener(c net.Conn) *oneConnListener {
	l := &oneConnListener{conns: make(chan net.Conn, 1), addr: c.LocalAddr(), done: make(chan struct{})}
	l.conns <- c
	return l
}

// Accept returns the connection the first time, then net.ErrClosed once the listener is closed.
func (l *oneConnListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close makes Accept return net.ErrClosed; it does not close a connection already handed out.
func (l *oneConnListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is the session's local address.
func (l *oneConnListener) Addr() net.Addr { return l.addr }
