/// A TCP header (RFC 9293) over a segment whose data offset the parser validated.
@frozen
public struct TCPView {
    public let base: UnsafeMutableRawPointer

    @inlinable @inline(__always)
    public init(unchecked base: UnsafeMutableRawPointer) { self.base = base }

    public static let checksumOffset = 16

    @inlinable @inline(__always) public var sourcePort: UInt16 {
        get { base.be16(0) }
        nonmutating set { base.setBE16(newValue, 0) }
    }
    @inlinable @inline(__always) public var destinationPort: UInt16 {
        get { base.be16(2) }
        nonmutating set { base.setBE16(newValue, 2) }
    }
    @inlinable @inline(__always) public var sequence: UInt32 {
        get { base.be32(4) }
        nonmutating set { base.setBE32(newValue, 4) }
    }
    @inlinable @inline(__always) public var acknowledgment: UInt32 {
        get { base.be32(8) }
        nonmutating set { base.setBE32(newValue, 8) }
    }
    /// Header length in bytes (data offset * 4).
    @inlinable @inline(__always) public var headerLength: Int { Int(base.u8(12) >> 4) &* 4 }
    @inlinable @inline(__always) public var flags: UInt8 { base.u8(13) }
    @inlinable @inline(__always) public var window: UInt16 { base.be16(14) }
    /// Raw (network-order) checksum word.
    @inlinable @inline(__always) public var checksum: UInt16 {
        get { base.raw16(16) }
        nonmutating set { base.setRaw16(newValue, 16) }
    }

    /// The options area (between the fixed header and the data).
    @inlinable @inline(__always) public var options: TCPOptions {
        TCPOptions(base: base + HeaderSize.tcp, length: headerLength - HeaderSize.tcp)
    }
}

/// Walks TCP options (RFC 9293 3.2) without trusting their lengths.
@frozen
public struct TCPOptions: Sequence {
    public let base: UnsafeMutableRawPointer
    public let length: Int

    @inlinable public init(base: UnsafeMutableRawPointer, length: Int) {
        self.base = base
        self.length = Swift.max(0, length)
    }

    /// One option: kind, and the offset and total length (kind and length bytes included) in the area.
    @frozen
    public struct Option: Equatable, Sendable {
        public var kind: UInt8
        public var offset: Int
        public var length: Int

        @inlinable init(kind: UInt8, offset: Int, length: Int) {
            self.kind = kind
            self.offset = offset
            self.length = length
        }
    }

    public static let endOfList: UInt8 = 0
    public static let noOperation: UInt8 = 1
    public static let maximumSegmentSize: UInt8 = 2
    public static let windowScale: UInt8 = 3
    public static let sackPermitted: UInt8 = 4
    public static let sack: UInt8 = 5
    public static let timestamps: UInt8 = 8

    /// Inlinable: the engine walks options on the packet path (PROXY v2 SACK edges, TOA's MSS).
    @frozen
    public struct Iterator: IteratorProtocol {
        @usableFromInline let base: UnsafeMutableRawPointer
        @usableFromInline let length: Int
        @usableFromInline var offset = 0
        @usableFromInline var isMalformed = false
        /// Set when an option's length byte is missing, below 2, or runs past the area.
        @inlinable public var malformed: Bool { isMalformed }

        @inlinable init(base: UnsafeMutableRawPointer, length: Int) {
            self.base = base
            self.length = length
        }

        @inlinable
        public mutating func next() -> Option? {
            while offset < length && !isMalformed {
                let kind = base.u8(offset)
                if kind == TCPOptions.endOfList { return nil }
                if kind == TCPOptions.noOperation {
                    offset += 1
                    continue
                }
                guard offset + 1 < length else {
                    isMalformed = true
                    return nil
                }
                let len = Int(base.u8(offset + 1))
                guard len >= 2, offset + len <= length else {
                    isMalformed = true
                    return nil
                }
                let option = Option(kind: kind, offset: offset, length: len)
                offset += len
                return option
            }
            return nil
        }
    }

    @inlinable public func makeIterator() -> Iterator { Iterator(base: base, length: length) }

    /// True when every option is well-formed up to the end of the area or an end-of-list option.
    public var isWellFormed: Bool {
        var it = makeIterator()
        while it.next() != nil {}
        return !it.malformed
    }

    /// The MSS option's value, if present.
    public var maximumSegmentSize: UInt16? {
        for o in self where o.kind == TCPOptions.maximumSegmentSize && o.length == 4 {
            return base.be16(o.offset + 2)
        }
        return nil
    }
}

/// A UDP header (RFC 768).
@frozen
public struct UDPView {
    public let base: UnsafeMutableRawPointer

    @inlinable @inline(__always)
    public init(unchecked base: UnsafeMutableRawPointer) { self.base = base }

    public static let checksumOffset = 6

    @inlinable @inline(__always) public var sourcePort: UInt16 {
        get { base.be16(0) }
        nonmutating set { base.setBE16(newValue, 0) }
    }
    @inlinable @inline(__always) public var destinationPort: UInt16 {
        get { base.be16(2) }
        nonmutating set { base.setBE16(newValue, 2) }
    }
    @inlinable @inline(__always) public var length: UInt16 {
        get { base.be16(4) }
        nonmutating set { base.setBE16(newValue, 4) }
    }
    /// Raw (network-order) checksum word; 0 over IPv4 means "no checksum".
    @inlinable @inline(__always) public var checksum: UInt16 {
        get { base.raw16(6) }
        nonmutating set { base.setRaw16(newValue, 6) }
    }
}

/// An ICMPv4 (RFC 792) or ICMPv6 (RFC 4443) header: type, code, checksum and 4 bytes of "rest".
@frozen
public struct ICMPView {
    public let base: UnsafeMutableRawPointer

    @inlinable @inline(__always)
    public init(unchecked base: UnsafeMutableRawPointer) { self.base = base }

    public static let checksumOffset = 2

    @inlinable @inline(__always) public var type: UInt8 {
        get { base.u8(0) }
        nonmutating set { base.setU8(newValue, 0) }
    }
    @inlinable @inline(__always) public var code: UInt8 {
        get { base.u8(1) }
        nonmutating set { base.setU8(newValue, 1) }
    }
    @inlinable @inline(__always) public var checksum: UInt16 {
        get { base.raw16(2) }
        nonmutating set { base.setRaw16(newValue, 2) }
    }
    /// The 4 bytes after the checksum (identifier+sequence, unused, or next-hop MTU).
    @inlinable @inline(__always) public var rest: UInt32 {
        get { base.be32(4) }
        nonmutating set { base.setBE32(newValue, 4) }
    }
}
