package kcpwire

import "strconv"

// Cmd is the command byte of a KCP segment.
type Cmd uint8

// The four commands of KCP.
const (
	CmdPush Cmd = 81 // data segment
	CmdAck  Cmd = 82 // acknowledgement of one segment
	CmdWask Cmd = 83 // window probe: ask the peer for its window
	CmdWins Cmd = 84 // window size: answer to a probe
)

// String returns "PUSH", "ACK", "WASK", "WINS", or "CMD(n)" for other values.
func (c Cmd) String() string {
	switch c {
	case CmdPush:
		return "PUSH"
	case CmdAck:
		return "ACK"
	case CmdWask:
		return "WASK"
	case CmdWins:
		return "WINS"
	}
	return "CMD(" + strconv.Itoa(int(c)) + ")"
}

// Valid reports whether c is one of the four KCP commands.
func (c Cmd) Valid() bool { return c >= CmdPush && c <= CmdWins }
