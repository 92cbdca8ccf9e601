//go:build !kcpgo_plaintimeout

package kcpgo

// plainTimeoutText: with timeoutError (timeout.go) a deadline is a net.Error only, so an error that
// merely reads "timeout" is not one.
const plainTimeoutText = false
