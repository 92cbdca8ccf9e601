//go:build unix && !linux

package pcapfile

import "syscall"

// mmapFlags maps a capture privately.
const mmapFlags = syscall.MAP_PRIVATE
