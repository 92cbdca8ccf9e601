// Package kcpwire decodes and encodes the KCP wire format as sent by kcp-go
// (github.com/xtaci/kcp-go/v5), in the style of gopacket's layers package.
//
// A KCP segment is a 24-byte little-endian header followed by Len bytes of
// data; one UDP datagram carries one or more segments back to back:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         conv (u32 LE)                         |  0
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      cmd      |      frg      |          wnd (u16 LE)         |  4
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                          ts (u32 LE)                          |  8
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                          sn (u32 LE)                          | 12
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         una (u32 LE)                          | 16
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         len (u32 LE)                          | 20
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                     data (len bytes) ...                      | 24
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// kcp-go wraps the segments of a datagram in one of three framings
// (see Framing):
//
//   - plain (Dial/Listen, no FEC, no encryption): the first segment starts at
//     UDP payload offset 0;
//   - FEC: an 8-byte FEC header (see FECHeader) comes first; data shards
//     carry segments after it, parity and OOB shards carry no segments;
//   - encrypted: a 16-byte nonce and a CRC32 (AES-CFB and the other block
//     ciphers) or a 12-byte nonce and a 16-byte tag (AES-GCM), with
//     everything else encrypted; opaque without the key.
//
// Guess claims a datagram as plain or FEC only on evidence: segments that
// chain exactly and look like one kcp-go flush, or a consistent FEC header.
// Ciphertext is random bytes, so only the user can name encrypted traffic
// (FramingEncrypted, or GuessOnPort on a port named as KCP); Detector adds
// FEC parity shards on flows that carried FEC data shards. DecodeCaptured
// decodes a datagram the capture's snap length cut short.
// Datagram.Decode decodes a UDP payload without allocating once its Segments
// slice has grown, and the KCP type plugs the decoder into gopacket, both
// through gopacket.NewPacket and through gopacket.DecodingLayerParser.
//
// Decoding never panics on bad input: errors are *DecodeError values naming
// the faulty field and its byte offset in the payload.
package kcpwire
