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

// cmdNames are the commands' names, from CmdPush on.
var cmdNames = [...]string{CmdPush - CmdPush: "PUSH", CmdAck - CmdPush: "ACK", CmdWask - CmdPush: "WASK", CmdWins - CmdPush: "WINS"}

// String returns "PUSH", "ACK", "WASK", "WINS", or "CMD(n)" for other values.
func (c Cmd) String() string {
	if c.Valid() {
		return cmdNames[c-CmdPush]
	}
	return "CMD(" + strconv.Itoa(int(c)) + ")"
}

// Valid reports whether c is one of the four KCP commands.
func (c Cmd) Valid() bool { return c >= CmdPush && c <= CmdWins }
