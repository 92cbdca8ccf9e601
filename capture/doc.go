// Package capture records every UDP datagram of an experiment trial, writes
// the recording as pcapng and reads pcap and pcapng files back.
//
// Two sources record a trial: the tap (TapSource), which wraps the
// net.PacketConn of each endpoint in-process, and live capture (NewLive),
// which uses libpcap on the loopback interface and needs the 'pcap' build
// tag and root. Both hand out the same Datagram records.
package capture
