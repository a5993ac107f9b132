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

    @inlinable
    public init(base: UnsafeMutableRawPointer, length: Int, capacity: Int? = nil, checksumPartial: Bool = false) {
        self.base = base
        self.length = length
        self.capacity = capacity ?? length
        self.checksumPartial = checksumPartial
    }
}

