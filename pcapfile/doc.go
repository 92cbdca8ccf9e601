// Package pcapfile reads pcap and pcapng capture files (optionally
// gzip-compressed; Ethernet, BSD Null/Loop, Linux SLL/SLL2 and raw IP link
// types, IPv4 and IPv6) into capture.Datagram records, one record at a time
// (Reader) or whole (ReadFile), and writes recorded datagrams as pcapng that
// Wireshark opens (WritePcapng), framed as on Linux lo.
package pcapfile
