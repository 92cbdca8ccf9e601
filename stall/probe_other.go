//go:build !unix

package stall

import "net"

// pingPair has no socket pair to offer here: the load probe measures timers only.
func pingPair() (tx, rx net.Conn) { return nil, nil }
