/// An IPv4 header (RFC 791), options included.
@frozen
public struct IPv4View {
    public let base: UnsafeMutableRawPointer

    /// Wraps an already validated header (the parser checked version, IHL and lengths).
    @inlinable @inline(__always)
    public init(unchecked base: UnsafeMutableRawPointer) { self.base = base }

    @inlinable @inline(__always) public var version: UInt8 { base.u8(0) >> 4 }
    /// Header length in bytes (IHL * 4).
    @inlinable @inline(__always) public var headerLength: Int { Int(base.u8(0) & 0x0f) &* 4 }
    @inlinable @inline(__always) public var tos: UInt8 { base.u8(1) }
    @inlinable @inline(__always) public var totalLength: UInt16 {
        get { base.be16(2) }
        nonmutating set { base.setBE16(newValue, 2) }
    }
    @inlinable @inline(__always) public var identification: UInt16 { base.be16(4) }
    @inlinable @inline(__always) public var dontFragment: Bool { base.u8(6) & 0x40 != 0 }
    @inlinable @inline(__always) public var moreFragments: Bool { base.u8(6) & 0x20 != 0 }
    /// Fragment offset in bytes.
    @inlinable @inline(__always) public var fragmentOffset: Int { Int(base.be16(6) & 0x1fff) &* 8 }
    @inlinable @inline(__always) public var ttl: UInt8 {
        get { base.u8(8) }
        nonmutating set { base.setU8(newValue, 8) }
    }
    @inlinable @inline(__always) public var proto: UInt8 { base.u8(9) }
    /// Raw (network-order) checksum word.
    @inlinable @inline(__always) public var checksum: UInt16 {
        get { base.raw16(10) }
        nonmutating set { base.setRaw16(newValue, 10) }
    }
    @inlinable @inline(__always) public var source: IPAddress {
        get { base.address4(12) }
        nonmutating set { base.setRaw32(newValue.v4Raw, 12) }
    }
    @inlinable @inline(__always) public var destination: IPAddress {
        get { base.address4(16) }
        nonmutating set { base.setRaw32(newValue.v4Raw, 16) }
    }

    /// Recomputes the header checksum from scratch.
    @inlinable public func updateChecksum() {
        checksum = 0
        checksum = Checksum.compute(UnsafeRawPointer(base), count: headerLength)
    }

    @inlinable @inline(__always) public var checksumIsValid: Bool { Checksum.verifies(UnsafeRawPointer(base), count: headerLength) }

    /// Rewrites the source address and patches the header checksum incrementally (RFC 1624).
    /// Returns the difference, for the caller to apply to the L4 pseudo-header checksum.
    @inlinable @inline(__always) @discardableResult
    public func rewriteSource(_ new: IPAddress) -> UInt64 {
        let old = base.raw32(12)
        let delta = Checksum.delta32(old: old, new: new.v4Raw)
        base.setRaw32(new.v4Raw, 12)
        checksum = Checksum.update(checksum, delta: delta)
        return delta
    }

    /// Rewrites the destination address; see `rewriteSource`.
    @inlinable @inline(__always) @discardableResult
    public func rewriteDestination(_ new: IPAddress) -> UInt64 {
        let old = base.raw32(16)
        let delta = Checksum.delta32(old: old, new: new.v4Raw)
        base.setRaw32(new.v4Raw, 16)
        checksum = Checksum.update(checksum, delta: delta)
        return delta
    }

    /// Decrements the TTL with an incremental checksum update; false when the TTL was already <= 1.
    @inlinable
    public func decrementTTL() -> Bool {
        let t = ttl
        guard t > 1 else { return false }
        let oldWord = base.raw16(8)
        base.setU8(t &- 1, 8)
        checksum = Checksum.update(checksum, delta: Checksum.delta16(old: oldWord, new: base.raw16(8)))
        return true
    }
}

/// An IPv6 fixed header (RFC 8200).
@frozen
public struct IPv6View {
    public let base: UnsafeMutableRawPointer

    @inlinable @inline(__always)
    public init(unchecked base: UnsafeMutableRawPointer) { self.base = base }

    @inlinable @inline(__always) public var version: UInt8 { base.u8(0) >> 4 }
    @inlinable @inline(__always) public var payloadLength: UInt16 {
        get { base.be16(4) }
        nonmutating set { base.setBE16(newValue, 4) }
    }
    @inlinable @inline(__always) public var nextHeader: UInt8 { base.u8(6) }
    @inlinable @inline(__always) public var hopLimit: UInt8 {
        get { base.u8(7) }
        nonmutating set { base.setU8(newValue, 7) }
    }
    @inlinable @inline(__always) public var source: IPAddress {
        get { base.address16(8) }
        nonmutating set { base.setAddress16(newValue, 8) }
    }
    @inlinable @inline(__always) public var destination: IPAddress {
        get { base.address16(24) }
        nonmutating set { base.setAddress16(newValue, 24) }
    }
}
