//go:build !unix

package pcapfile

import (
	"io"
	"os"
)

// openMapped never maps outside Unix: files are read as streams.
func openMapped(*os.File, string) (*Reader, io.Closer, bool) { return nil, nil, false }
