package link

import "fmt"

// Direction is the way a datagram travels: C2S is what the client sends, S2C what the server sends.
type Direction uint8

// The two directions.
const (
	C2S Direction = iota // client to server
	S2C                  // server to client
)

// Directions lists both directions, C2S first.
var Directions = [2]Direction{C2S, S2C}

// String returns "c2s" or "s2c".
func (d Direction) String() string {
	switch d {
	case C2S:
		return "c2s"
	case S2C:
		return "s2c"
	}
	return fmt.Sprintf("Direction(%d)", uint8(d))
}

// Reverse returns the other direction.
func (d Direction) Reverse() Direction { return 1 - d }

func (d Direction) valid() bool { return d == C2S || d == S2C }
