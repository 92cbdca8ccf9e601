package kcpgo

import "runtime/debug"

// ModulePath is the module path kcplab imports kcp-go under (v5.5.0 and later serve it; a matrix build
// of an older release replaces it).
const ModulePath = "github.com/xtaci/kcp-go/v5"

// Pinned is the kcp-go version go.mod pins (a test keeps the two equal).
const Pinned = "v5.7.6"

// TreeVar is the variable a build against a kcp-go working tree sets with -ldflags -X (the tree's
// name: path, VCS state and files' hash); versions.Builder does.
const TreeVar = "kcplab/internal/kcpgo.workingTree"

// workingTree names the kcp-go working tree this binary was built against (TreeVar); empty for a
// release.
var workingTree string

// Version returns the version of kcp-go linked into this binary, from its build information (test
// binaries carry none: then Pinned), or, for a build against a working tree, the tree's name.
func Version() string {
	if workingTree != "" {
		return workingTree
	}
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
