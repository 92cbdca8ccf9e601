// Package traffictest is what the tests that make traffic share: loopback UDP sockets, and the echo a
// KCP server side runs, whichever way kcp-go splits and joins the client's messages.
package traffictest

import (
	"fmt"
	"io"
)

// Echo writes back what it reads from rw until it has echoed total bytes. A failed Read or Write is
// returned with how far the echo got.
func Echo(rw io.ReadWriter, total int) error {
	buf := make([]byte, 64<<10)
	for echoed := 0; echoed < total; {
		n, err := rw.Read(buf)
		if err != nil {
			return fmt.Errorf("server read after %d of %d bytes: %w", echoed, total, err)
		}
		if _, err := rw.Write(buf[:n]); err != nil {
			return fmt.Errorf("server write after %d of %d bytes: %w", echoed, total, err)
		}
		echoed += n
	}
	return nil
}
