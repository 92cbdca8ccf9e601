// Package dir names the way a datagram travels between a trial's client and server. It is the one
// direction type of kcplab: capture attributes each datagram to the end that sent it, link impairs
// each direction on its own, and the harness's ladders and events use it; it sits below all three.
//
// A direction is named by the end that sends: C2S is what the client sends, and so also stands for
// the client (an event's side, a Read's role); S2C likewise for the server.
package dir

import "fmt"

// Dir is the way a datagram travels, named by the end that sends it.
type Dir uint8

// The directions. The zero value is Unknown.
const (
	// Unknown is neither end: a datagram between other addresses, or one whose sender a pcap file
	// does not tell.
	Unknown Dir = iota
	// C2S is client to server: what the client sends, and the client itself.
	C2S
	// S2C is server to client: what the server sends, and the server itself.
	S2C
)

// Both lists the two directions, C2S first.
var Both = [2]Dir{C2S, S2C}

// String names the end that sends: "client", "server" or "?". Events and checks print it.
func (d Dir) String() string {
	switch d {
	case C2S:
		return "client"
	case S2C:
		return "server"
	}
	return "?"
}

// Arrow is a ladder's notation: "c→s", "s→c" or "?".
func (d Dir) Arrow() string {
	switch d {
	case C2S:
		return "c→s"
	case S2C:
		return "s→c"
	}
	return "?"
}

// Key is the name in a link SPEC's prefix ("c2s.loss=1%"), summary.json and link comments: "c2s",
// "s2c", or "Dir(N)" for another value.
func (d Dir) Key() string {
	switch d {
	case C2S:
		return "c2s"
	case S2C:
		return "s2c"
	}
	return fmt.Sprintf("Dir(%d)", uint8(d))
}

// Valid reports whether d is C2S or S2C.
func (d Dir) Valid() bool { return d == C2S || d == S2C }

// Reverse returns the other direction (Unknown for Unknown).
func (d Dir) Reverse() Dir {
	switch d {
	case C2S:
		return S2C
	case S2C:
		return C2S
	}
	return Unknown
}

// Index is 0 for C2S and 1 for S2C, for arrays that hold both directions (Both[d.Index()] == d). It
// panics for any other value.
func (d Dir) Index() int {
	if !d.Valid() {
		panic(fmt.Sprintf("dir: Index of %s", d.Key()))
	}
	return int(d) - 1
}
