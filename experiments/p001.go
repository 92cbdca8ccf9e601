package experiments

import (
	"fmt"
	"net"
	"time"

	"kcplab/harness"
)

// p001 draft.
func init() {
	register(&harness.Experiment{
		ID:       "p001",
		Title:    "an echo exchange ends only by read timeouts",
		Question: "draft",
		Server:   echoServer,
		Client:   p001Client,
		Trials:   40,
		Classes: []harness.Class{{
			Name:   "draft",
			Ladder: harness.Ladder{},
		}},
		Invariants: []harness.Check{
			harness.NoHandshake(),
			harness.OnlyDataAndAcks(),
			harness.ReadEndsInTimeout(harness.Client, echoDeadline),
			harness.ReadEndsInTimeout(harness.Server, echoDeadline),
		},
	})
}

const echoDeadline = time.Second

func echoServer(conn net.Conn) error {
	defer conn.Close()
	buf := make([]byte, 4096)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(echoDeadline))
		n, err := conn.Read(buf)
		if err != nil {
			return err
		}
		if _, err := conn.Write(buf[:n]); err != nil {
			return err
		}
	}
}

func p001Client(conn net.Conn) error {
	defer conn.Close()
	if _, err := conn.Write([]byte(time.Now().String())); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	for nRead := 0; ; {
		_ = conn.SetReadDeadline(time.Now().Add(echoDeadline))
		n, err := conn.Read(buf[nRead:])
		if err != nil {
			return err
		}
		nRead += n
	}
}

var _ = fmt.Sprint
