//go:build !pcap

package capture

// LiveAvailable reports whether live capture can work here. This binary was
// built without the 'pcap' build tag, so it always returns ErrNoPcapBuild.
func LiveAvailable() error { return ErrNoPcapBuild }
