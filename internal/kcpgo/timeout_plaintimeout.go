//go:build kcpgo_plaintimeout

package kcpgo

import (
	"errors"
	"net"
)

// IsTimeout reports whether err is a deadline timeout as kcp-go reports it: a wrapped net.Error with
// Timeout() true, or an error whose innermost text is "timeout".
//
// For releases without timeoutError (v5.6.18 and older; PlainTimeoutTag), which return
// errors.New("timeout") wrapped by pkg/errors from Read and Write when a deadline passes:
// `errors.As(err, &netErr)` fails on it. A net.Error still counts (the socket's own deadlines).
func IsTimeout(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for err != nil {
		if errors.Unwrap(err) == nil {
			return err.Error() == "timeout"
		}
		err = errors.Unwrap(err)
	}
	return false
}
