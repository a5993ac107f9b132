/// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
///
/// All arithmetic works on words as loaded from memory: the one's-complement sum is byte-order
/// independent, so checksums are computed and stored without swapping bytes. A "sum" here is an
/// unfolded 64-bit accumulator; `fold` reduces it to 16 bits.
public enum Checksum {
    /// Adds `count` bytes at `p` to `initial` (unfolded one's-complement accumulation).
    @inlinable
    public static func accumulate(_ p: UnsafeRawPointer, count: Int, initial: UInt64 = 0) -> UInt64 {
        var sum = initial
        var i = 0
        // 32-bit words into a 64-bit accumulator: carries pile up in the high half and fold later.
        while i + 4 <= count {
            sum &+= UInt64(p.loadUnaligned(fromByteOffset: i, as: UInt32.self))
            i += 4
        }
        if i + 2 <= count {
            sum &+= UInt64(p.loadUnaligned(fromByteOffset: i, as: UInt16.self))
            i += 2
        }
        if i < count {
            // A trailing odd byte is the high-order byte of a zero-padded word in network order,
            // which is the low byte of the word as loaded on a little-endian host.
            sum &+= UInt64(p.load(fromByteOffset: i, as: UInt8.self))
        }
        return sum
    }

    /// Folds an accumulator to a 16-bit one's-complement sum (not complemented).
    @inlinable @inline(__always)
    public static func fold(_ sum: UInt64) -> UInt16 {
        var s = (sum & 0xffff_ffff) &+ (sum >> 32)
        s = (s & 0xffff_ffff) &+ (s >> 32)
        s = (s & 0xffff) &+ (s >> 16)
        s = (s & 0xffff) &+ (s >> 16)
        s = (s & 0xffff) &+ (s >> 16)
        return UInt16(truncatingIfNeeded: s)
    }

    /// The checksum to store for data whose accumulated sum is `sum`.
    @inlinable @inline(__always)
    public static func finish(_ sum: UInt64) -> UInt16 { ~fold(sum) }

    /// The checksum of `count` bytes at `p`, ready to store.
    @inlinable
    public static func compute(_ p: UnsafeRawPointer, count: Int, initial: UInt64 = 0) -> UInt16 {
        finish(accumulate(p, count: count, initial: initial))
    }

    /// True when `count` bytes at `p` (which include their checksum field) verify.
    @inlinable
    public static func verifies(_ p: UnsafeRawPointer, count: Int, initial: UInt64 = 0) -> Bool {
        fold(accumulate(p, count: count, initial: initial)) == 0xffff
    }

    /// The pseudo-header sum for TCP/UDP/ICMPv6 over IPv4 or IPv6 (RFC 793, RFC 8200 8.1).
    @inlinable
    public static func pseudoHeader(src: IPAddress, dst: IPAddress, protocol proto: UInt8, length: Int) -> UInt64 {
        var sum: UInt64
        if src.isIPv4 {
            sum = UInt64(src.v4Raw) &+ UInt64(dst.v4Raw)
        } else {
            sum = (src.hi & 0xffff_ffff) &+ (src.hi >> 32) &+ (src.lo & 0xffff_ffff) &+ (src.lo >> 32)
            sum &+= (dst.hi & 0xffff_ffff) &+ (dst.hi >> 32) &+ (dst.lo & 0xffff_ffff) &+ (dst.lo >> 32)
        }
        // Protocol and length are big-endian values; as raw words they are byte-swapped.
        sum &+= UInt64(UInt16(proto).bigEndian)
        sum &+= UInt64(UInt32(truncatingIfNeeded: length).bigEndian)
        return sum
    }

    // MARK: Incremental update, RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')

    /// The sum of the difference `new - old` in one's-complement terms, for 16-bit fields.
    @inlinable @inline(__always)
    public static func delta16(old: UInt16, new: UInt16) -> UInt64 { UInt64(~old) &+ UInt64(new) }

    @inlinable @inline(__always)
    public static func delta32(old: UInt32, new: UInt32) -> UInt64 { UInt64(~old) &+ UInt64(new) }

    /// The difference between two addresses of the same family.
    @inlinable @inline(__always)
    public static func deltaAddress(old: IPAddress, new: IPAddress) -> UInt64 {
        if old.isIPv4 { return delta32(old: old.v4Raw, new: new.v4Raw) }
        let oh = ~old.hi
        let ol = ~old.lo
        return (oh & 0xffff_ffff) &+ (oh >> 32) &+ (ol & 0xffff_ffff) &+ (ol >> 32)
            &+ (new.hi & 0xffff_ffff) &+ (new.hi >> 32) &+ (new.lo & 0xffff_ffff) &+ (new.lo >> 32)
    }

    /// Applies a difference (from the `delta*` functions) to a stored, complemented checksum.
    @inlinable @inline(__always)
    public static func update(_ check: UInt16, delta: UInt64) -> UInt16 {
        ~fold(UInt64(~check) &+ delta)
    }

    /// Applies a difference to a checksum field that holds only the (uncomplemented) pseudo-header
    /// sum, as a frame with a partial checksum (CHECKSUM_PARTIAL, VIRTIO_NET_HDR_F_NEEDS_CSUM) does.
    @inlinable @inline(__always)
    public static func updatePartial(_ check: UInt16, delta: UInt64) -> UInt16 {
        fold(UInt64(check) &+ delta)
    }
}
