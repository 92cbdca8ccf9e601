package kcpwire

import (
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// LayerTypeKCP is the gopacket layer type of KCP (number 2026, name "KCP").
var LayerTypeKCP = gopacket.RegisterLayerType(2026, gopacket.LayerTypeMetadata{
	Name:    "KCP",
	Decoder: gopacket.DecodeFunc(decodeKCP),
})

// KCP is a gopacket layer: usable from gopacket.NewPacket and from a
// gopacket.DecodingLayerParser without allocation per packet. Want selects
// the framing (zero value: FramingAuto, which claims only plain and FEC
// data/OOB shards, on evidence; see Guess). Contents is the part of the payload
// decoded as FEC header and segments; Payload is Datagram.Opaque
// (ciphertext, parity or OOB bytes), decoded next as gopacket.Payload.
type KCP struct {
	layers.BaseLayer
	Datagram
	Want Framing // framing to decode with; FramingAuto guesses per datagram
}

// LayerType returns LayerTypeKCP.
func (k *KCP) LayerType() gopacket.LayerType { return LayerTypeKCP }

// CanDecode returns LayerTypeKCP.
func (k *KCP) CanDecode() gopacket.LayerClass { return LayerTypeKCP }

// NextLayerType is gopacket.LayerTypePayload when the datagram has opaque
// bytes (encrypted, parity, OOB), else gopacket.LayerTypeZero.
func (k *KCP) NextLayerType() gopacket.LayerType {
	if len(k.Opaque) > 0 {
		return gopacket.LayerTypePayload
	}
	return gopacket.LayerTypeZero
}

// DecodeFromBytes decodes data (a UDP payload) with framing k.Want. Errors
// are *DecodeError; a truncated header or segment also calls
// df.SetTruncated (df may be nil).
func (k *KCP) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	f := k.decode(data, len(data), k.Want)
	if !f.ok() {
		k.BaseLayer = layers.BaseLayer{Contents: data}
		if df != nil && (f.kind == faultHeader || f.kind == faultTrailing || f.kind == faultLen || f.kind == faultFECHeader) {
			df.SetTruncated()
		}
		return f.err()
	}
	n := len(data) - len(k.Opaque)
	k.BaseLayer = layers.BaseLayer{Contents: data[:n:n], Payload: k.Opaque}
	return nil
}

// SerializeTo writes Datagram.AppendTo's bytes (gopacket.SerializableLayer).
func (k *KCP) SerializeTo(b gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	buf, err := b.PrependBytes(k.EncodedLen())
	if err != nil {
		return err
	}
	k.AppendTo(buf[:0])
	return nil
}

// decodeKCP is the gopacket.Decoder of LayerTypeKCP, used on the ports
// registered with RegisterPort: framing GuessOnPort (the user named the port
// as KCP, so ciphertext and parity shards count as KCP there).
func decodeKCP(data []byte, p gopacket.PacketBuilder) error {
	k := &KCP{Want: GuessOnPort(data)}
	if err := k.DecodeFromBytes(data, p); err != nil {
		return err
	}
	p.AddLayer(k)
	if next := k.NextLayerType(); next != gopacket.LayerTypeZero {
		return p.NextDecoder(next)
	}
	return nil
}

// RegisterPort binds LayerTypeKCP to a UDP port (layers.RegisterUDPPortLayerType),
// for either direction. Call it before decoding starts: gopacket's port table
// is not safe for concurrent use.
func RegisterPort(port uint16) {
	layers.RegisterUDPPortLayerType(layers.UDPPort(port), LayerTypeKCP)
}
