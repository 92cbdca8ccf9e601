package main

import (
	"os"
	"syscall"
)

// growPipe asks the kernel for a 1 MiB buffer when f is a pipe, so that
// the decoder's 256 KiB writes do not wait for the reader 64 KiB at a time.
func growPipe(f *os.File) {
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	const fSetPipeSz = 1031 // F_SETPIPE_SZ
	_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), fSetPipeSz, 1<<20)
}
