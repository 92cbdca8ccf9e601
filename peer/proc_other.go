//go:build !linux

package peer

import "os"

// killTree kills p (elsewhere than Linux, not the processes it started).
func killTree(p *os.Process) { _ = p.Kill() }
