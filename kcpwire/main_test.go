package kcpwire

import (
	"kcplab/internal/kcpleak"
	"testing"

	"go.uber.org/goleak"
)

// testPort is the UDP port the gopacket tests register for KCP.
const testPort = 47123

func TestMain(m *testing.M) {
	RegisterPort(testPort) // before any test decodes: gopacket's port table is not concurrency-safe
	goleak.VerifyTestMain(m, append(kcpleak.Options(), goleak.IgnoreCurrent())...)
}
