package experiments

import (
	"net"
	"sync"
)

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
