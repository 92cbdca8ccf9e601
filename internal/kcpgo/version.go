package kcpgo

import "runtime/debug"

// ModulePath is the module path kcplab imports kcp-go under (v5.5.0 and later serve it; a matrix build
// of an older release replaces it).
const ModulePath = "github.com/xtaci/kcp-go/v5"

// Pinned is the kcp-go version go.mod pins (a test keeps the two equal).
const Pinned = "v5.7.6"

// Version returns the version of kcp-go linked into this binary, from its build information (test
// binaries carry none: then Pinned).
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path != ModulePath {
				continue
			}
			if m.Replace != nil && m.Replace.Version != "" {
				return m.Replace.Version // a matrix build of another module path (the seed's v5.4.20+incompatible)
			}
			if m.Version != "" {
				return m.Version
			}
		}
	}
	return Pinned
}
