// Package hosts makes simulated hosts on this machine: network namespaces this process creates
// (named kcplab-PID-ROLE-N, so a run killed before its cleanup is swept by the next), and TUN devices
// inside them. A Pair is two such hosts joined through a kcplab link (package link): each side's TUN
// device hands the kernel's IP packets to this process, which moves them to the other side through
// the link's seeded impairments and records every packet. Real kernel TCP and KCP over UDP then cross
// the same impaired path, packet for packet.
//
// Addresses come from 198.18.0.0/15, the range reserved for benchmarks: a namespace holds only its
// loopback and its TUN device's point-to-point route to the other side, with no default route, so no
// packet can leave it. Everything here needs CAP_SYS_ADMIN and CAP_NET_ADMIN (root); Available says
// why it cannot run when it cannot.
package hosts
