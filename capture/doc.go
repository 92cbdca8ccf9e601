// Package capture records every UDP datagram of an experiment trial.
//
// Two sources record a trial: the tap (TapSource), which wraps the
// net.PacketConn of each endpoint in-process, and live capture, which uses
// libpcap on the loopback interface and needs the 'pcap' build tag and root.
// For live capture, a run opens one Hub (OpenHub) and takes a Source per
// trial from it (Hub.Source), so concurrent trials share one libpcap handle
// and each records only its own ports. Both kinds hand out the same Datagram
// records. Package pcapfile writes them as pcapng and reads capture files.
package capture
