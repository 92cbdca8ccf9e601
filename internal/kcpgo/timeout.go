//go:build !kcpgo_plaintimeout

package kcpgo

import (
	"errors"
	"net"
)

// IsTimeout reports whether err is a deadline timeout as kcp-go reports it: a wrapped net.Error with
// Timeout() true (kcp-go wraps it with pkg/errors, so a plain type assertion fails).
//
// For releases with timeoutError (v5.6.19 and later). timeout_plaintimeout.go is the one for older
// releases (PlainTimeoutTag).
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
