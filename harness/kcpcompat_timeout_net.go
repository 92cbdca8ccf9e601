//go:build !kcpgo_plaintimeout

package harness

// plainTimeout reports whether err is a deadline timeout that is not a net.Error. Releases from
// v5.6.19 on report deadlines with a net.Error (timeoutError), which IsTimeout finds by itself.
func plainTimeout(error) bool { return false }
