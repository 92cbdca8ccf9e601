//go:build pcap

package capture

import (
	"os"
	"strconv"
	"strings"
)

// capNetRaw is CAP_NET_RAW's bit in CapEff.
const capNetRaw = 13

// LiveAvailable reports whether live capture can work here: it needs root or
// CAP_NET_RAW and the loopback interface LiveInterface. The error says what is
// missing and how to fix it.
func LiveAvailable() error {
	if !canCapture() {
		return ErrNotRoot
	}
	return checkInterface(LiveInterface)
}

// canCapture reports whether the process is root or has CAP_NET_RAW.
func canCapture() bool {
	if os.Geteuid() == 0 {
		return true
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(status), "\n") {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			return err == nil && caps&(1<<capNetRaw) != 0
		}
	}
	return false
}
