//go:build kcpgo_plaintimeout

package harness

import "errors"

// plainTimeout reports whether err is a deadline timeout that is not a net.Error. Releases without
// timeoutError (v5.6.18 and older; build tag kcpgo_plaintimeout) return errors.New("timeout")
// wrapped by pkg/errors from Read and Write when a deadline passes: `errors.As(err, &netErr)` fails on it.
func plainTimeout(err error) bool {
	for err != nil {
		if errors.Unwrap(err) == nil {
			return err.Error() == "timeout"
		}
		err = errors.Unwrap(err)
	}
	return false
}
