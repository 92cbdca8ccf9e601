//go:build unix

package stall

import (
	"net"
	"os"
	"syscall"
)

// pingPair returns the two ends of a Unix datagram socket pair for the load probe's ping, or nils.
func pingPair() (tx, rx net.Conn) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
	if err != nil {
		return nil, nil
	}
	var conns [2]net.Conn
	for i, fd := range fds {
		syscall.CloseOnExec(fd)
		f := os.NewFile(uintptr(fd), "kcplab-probe")
		conns[i], err = net.FileConn(f) // dups fd into the netpoller
		f.Close()
		if err != nil {
			for _, c := range conns[:i] {
				c.Close()
			}
			if i == 0 {
				syscall.Close(fds[1])
			}
			return nil, nil
		}
	}
	return conns[0], conns[1]
}
