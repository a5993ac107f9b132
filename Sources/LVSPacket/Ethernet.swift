/// An Ethernet II header, optionally followed by one 802.1Q tag.
@frozen
public struct EthernetView {
    public let base: UnsafeMutableRawPointer
    /// 14, or 18 with a VLAN tag.
    public let headerLength: Int

    /// Fails when the frame is shorter than the header (including the tag, when one is present).
    @inlinable
    public init?(_ base: UnsafeMutableRawPointer, length: Int) {
        guard length >= HeaderSize.ethernet else { return nil }
        let outer = base.be16(12)
        if outer == EtherType.vlan || outer == EtherType.qinq {
            guard length >= HeaderSize.ethernet + HeaderSize.vlanTag else { return nil }
            headerLength = HeaderSize.ethernet + HeaderSize.vlanTag
        } else {
            headerLength = HeaderSize.ethernet
        }
        self.base = base
    }

    @inlinable @inline(__always) public var destination: MACAddress {
        get { MACAddress(at: base, 0) }
        nonmutating set { newValue.store(to: base, 0) }
    }
    @inlinable @inline(__always) public var source: MACAddress {
        get { MACAddress(at: base, 6) }
        nonmutating set { newValue.store(to: base, 6) }
    }
    @inlinable @inline(__always) public var hasVLAN: Bool { headerLength > HeaderSize.ethernet }
    /// The tag control information (PCP, DEI, VID) when `hasVLAN`.
    @inlinable @inline(__always) public var vlanTCI: UInt16 { hasVLAN ? base.be16(14) : 0 }
    /// The EtherType of the payload (after the tag, when present).
    @inlinable @inline(__always) public var etherType: UInt16 { base.be16(headerLength - 2) }

    /// Swaps source and destination (for answering on the receiving interface).
    @inlinable public func swapAddresses() {
        let a = base.raw32(0), b = base.raw16(4)
        base.setRaw32(base.raw32(6), 0)
        base.setRaw16(base.raw16(10), 4)
        base.setRaw32(a, 6)
        base.setRaw16(b, 10)
    }
}

/// An ARP packet for IPv4 over Ethernet (RFC 826; htype 1, ptype 0x0800).
@frozen
public struct ARPView {
    public let base: UnsafeMutableRawPointer

    @inlinable
    public init?(_ base: UnsafeMutableRawPointer, length: Int) {
        guard length >= HeaderSize.arpIPv4 else { return nil }
        self.base = base
    }

    public static let request: UInt16 = 1
    public static let reply: UInt16 = 2

    @inlinable @inline(__always) public var hardwareType: UInt16 { base.be16(0) }
    @inlinable @inline(__always) public var protocolType: UInt16 { base.be16(2) }
    @inlinable @inline(__always) public var hardwareLength: UInt8 { base.u8(4) }
    @inlinable @inline(__always) public var protocolLength: UInt8 { base.u8(5) }
    /// True for Ethernet/IPv4 ARP, the only kind a director answers.
    @inlinable @inline(__always) public var isEthernetIPv4: Bool {
        hardwareType == 1 && protocolType == EtherType.ipv4 && hardwareLength == 6 && protocolLength == 4
    }
    @inlinable @inline(__always) public var operation: UInt16 {
        get { base.be16(6) }
        nonmutating set { base.setBE16(newValue, 6) }
    }
    @inlinable @inline(__always) public var senderMAC: MACAddress {
        get { MACAddress(at: base, 8) }
        nonmutating set { newValue.store(to: base, 8) }
    }
    @inlinable @inline(__always) public var senderIP: IPAddress {
        get { base.address4(14) }
        nonmutating set { base.setRaw32(newValue.v4Raw, 14) }
    }
    @inlinable @inline(__always) public var targetMAC: MACAddress {
        get { MACAddress(at: base, 18) }
        nonmutating set { newValue.store(to: base, 18) }
    }
    @inlinable @inline(__always) public var targetIP: IPAddress {
        get { base.address4(24) }
        nonmutating set { base.setRaw32(newValue.v4Raw, 24) }
    }
}
