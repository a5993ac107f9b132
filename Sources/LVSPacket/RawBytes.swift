// Unaligned, bounds-unchecked field access over raw packet memory.
//
// Views check a header's bounds once, when they are created; after that every field access is a
// plain unaligned load or store. "raw" accessors keep the bytes in memory (network) order, which is
// what checksum arithmetic and address comparison want; "be" accessors convert to host order for
// values that are compared with configuration (ports, lengths, flags).

#if _endian(big)
#error("SwiftLVS stores addresses as raw little-endian words; big-endian hosts are not supported")
#endif

extension UnsafeMutableRawPointer {
    @inlinable @inline(__always)
    public func u8(_ offset: Int) -> UInt8 { load(fromByteOffset: offset, as: UInt8.self) }

    @inlinable @inline(__always)
    public func setU8(_ value: UInt8, _ offset: Int) { storeBytes(of: value, toByteOffset: offset, as: UInt8.self) }

    @inlinable @inline(__always)
    public func raw16(_ offset: Int) -> UInt16 { loadUnaligned(fromByteOffset: offset, as: UInt16.self) }

    @inlinable @inline(__always)
    public func setRaw16(_ value: UInt16, _ offset: Int) {
        storeBytes(of: value, toByteOffset: offset, as: UInt16.self)
    }

    @inlinable @inline(__always)
    public func raw32(_ offset: Int) -> UInt32 { loadUnaligned(fromByteOffset: offset, as: UInt32.self) }

    @inlinable @inline(__always)
    public func setRaw32(_ value: UInt32, _ offset: Int) {
        storeBytes(of: value, toByteOffset: offset, as: UInt32.self)
    }

    @inlinable @inline(__always)
    public func raw64(_ offset: Int) -> UInt64 { loadUnaligned(fromByteOffset: offset, as: UInt64.self) }

    @inlinable @inline(__always)
    public func setRaw64(_ value: UInt64, _ offset: Int) {
        storeBytes(of: value, toByteOffset: offset, as: UInt64.self)
    }

    @inlinable @inline(__always)
    public func be16(_ offset: Int) -> UInt16 { UInt16(bigEndian: raw16(offset)) }

    @inlinable @inline(__always)
    public func setBE16(_ value: UInt16, _ offset: Int) { setRaw16(value.bigEndian, offset) }

    @inlinable @inline(__always)
    public func be32(_ offset: Int) -> UInt32 { UInt32(bigEndian: raw32(offset)) }

    @inlinable @inline(__always)
    public func setBE32(_ value: UInt32, _ offset: Int) { setRaw32(value.bigEndian, offset) }

    /// The 16-byte address at `offset` (IPv6 layout).
    @inlinable @inline(__always)
    public func address16(_ offset: Int) -> IPAddress { IPAddress(hi: raw64(offset), lo: raw64(offset + 8)) }

    @inlinable @inline(__always)
    public func setAddress16(_ value: IPAddress, _ offset: Int) {
        setRaw64(value.hi, offset)
        setRaw64(value.lo, offset + 8)
    }

    /// The 4-byte IPv4 address at `offset`, as an IPv4-mapped `IPAddress`.
    @inlinable @inline(__always)
    public func address4(_ offset: Int) -> IPAddress { IPAddress(v4Raw: raw32(offset)) }
}
