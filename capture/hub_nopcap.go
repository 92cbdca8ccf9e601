//go:build !pcap

package capture

// OpenHub opens a shared libpcap capture; without the 'pcap' build tag it
// always returns ErrNoPcapBuild.
func OpenHub(iface string) (*Hub, error) { return nil, ErrNoPcapBuild }
