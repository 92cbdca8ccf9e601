//go:build kcpgo_plaintimeout

package kcpgo

// plainTimeoutText: without timeoutError (timeout_plaintimeout.go) kcp-go returns errors.New("timeout")
// wrapped, which IsTimeout recognises by its innermost text, and only that text.
const plainTimeoutText = true
