/// A frame in memory that may be rewritten in place (by the engine, or by `ICMPMessages`).
@frozen
public struct Frame {
    public var base: UnsafeMutableRawPointer
    /// Bytes of frame data.
    public var length: Int
    /// Bytes available at `base` (>= length); room for answers the engine writes in place.
    public var capacity: Int
    /// The L4 checksum field holds only the pseudo-header sum (CHECKSUM_PARTIAL from an offloading
    /// interface, PACKET_VNET_HDR's NEEDS_CSUM); rewrites then adjust it without complementing.
    public var checksumPartial: Bool
    /// Segment size of a GSO/GRO super-frame (virtio_net_hdr gso_size); 0 for an ordinary frame.
    /// VS/TUN checks the path MTU per segment, as IPVS does with gso_size.
    public var gsoSize: UInt16
    /// Bytes of outer headers (IP, UDP, GUE) the engine prepended to the IP packet (VS/TUN); 0
    /// when the frame was not encapsulated. The data plane segments encapsulated super-frames.
    public var encapsulation: UInt16

    @inlinable
    public init(base: UnsafeMutableRawPointer, length: Int, capacity: Int? = nil, checksumPartial: Bool = false,
                gsoSize: UInt16 = 0) {
        self.base = base
        self.length = length
        self.capacity = capacity ?? length
        self.checksumPartial = checksumPartial
        self.gsoSize = gsoSize
        self.encapsulation = 0
    }
}

