import LVSPacket

/// IPv4 neighbours (ARP cache) of the data plane, with expiry, request pacing and a small pool of
/// frames waiting for a resolution. Fixed capacity: nothing is allocated once it is built.
public struct NeighborTable {
    public struct Entry {
        public var address: IPAddress
        public var mac: MACAddress
        public var interface: Int
        /// Resolved entries are valid until then (engine milliseconds); 0 = unresolved.
        public var validUntil: UInt64
        /// When the last ARP request for it went out.
        public var requestedAt: UInt64
        public var requests: Int
        public var used: Bool
    }

    /// How long a learned address stays valid (Linux's base_reachable_time is 30 s; ARP entries
    /// live on while confirmed, so a longer life with refresh from traffic is used here).
    public static let lifetime: UInt64 = 60_000
    /// Minimum time between two requests for the same address.
    public static let requestInterval: UInt64 = 200

    public private(set) var entries: [Entry]
    let mask: Int

    public init(capacity: Int = 4096) {
        var n = 16
        while n < capacity * 2 { n <<= 1 }
        mask = n - 1
        entries = Array(repeating: Entry(address: .zero, mac: .zero, interface: 0, validUntil: 0, requestedAt: 0, requests: 0, used: false), count: n)
    }

    func slot(_ a: IPAddress) -> Int {
        let x = (a.hi ^ a.lo).multipliedFullWidth(by: 0x9e37_79b9_7f4a_7c15)
        return Int(truncatingIfNeeded: x.high ^ x.low) & mask
    }

    func find(_ a: IPAddress) -> Int? {
        var i = slot(a)
        for _ in 0...mask {
            if !entries[i].used { return nil }
            if entries[i].address == a { return i }
            i = (i + 1) & mask
        }
        return nil
    }

    mutating func findOrInsert(_ a: IPAddress) -> Int? {
        var i = slot(a)
        for _ in 0...mask {
            if !entries[i].used {
                entries[i] = Entry(address: a, mac: .zero, interface: 0, validUntil: 0, requestedAt: 0, requests: 0, used: true)
                return i
            }
            if entries[i].address == a { return i }
            i = (i + 1) & mask
        }
        return nil
    }

    /// The MAC of `address` if known and not expired.
    public func lookup(_ address: IPAddress, now: UInt64) -> MACAddress? {
        guard let i = find(address), entries[i].validUntil > now else { return nil }
        return entries[i].mac
    }

    /// Records what an ARP packet (or a frame from a connected host) said.
    public mutating func learn(_ address: IPAddress, mac: MACAddress, interface: Int, now: UInt64) {
        guard let i = findOrInsert(address) else { return }
        entries[i].mac = mac
        entries[i].interface = interface
        entries[i].validUntil = now + Self.lifetime
        entries[i].requests = 0
    }

    /// True when a request for `address` should be sent now (not sent within `requestInterval`).
    public mutating func shouldRequest(_ address: IPAddress, now: UInt64) -> Bool {
        guard let i = findOrInsert(address) else { return false }
        if entries[i].requests > 0 && now < entries[i].requestedAt + Self.requestInterval { return false }
        entries[i].requestedAt = now
        entries[i].requests += 1
        return true
    }

    /// True when `address` is known and its entry is more than half-way to expiry (worth a refresh).
    public func isFresh(_ address: IPAddress, now: UInt64) -> Bool {
        guard let i = find(address) else { return false }
        return entries[i].validUntil > now + Self.lifetime / 2
    }
}
