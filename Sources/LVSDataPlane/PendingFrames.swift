import LVSPacket

/// Frames parked while their next hop's MAC address is resolved: a fixed pool of copies, so the
/// first packets of a flow to an unknown neighbour are delayed rather than lost.
struct PendingFrames {
    struct Entry {
        var waitingFor: IPAddress
        var interface: Int
        var length: Int
        var since: UInt64
        /// 0 free, 1 waiting, 2 queued for transmit (freed after the batch is sent).
        var state: UInt8
    }

    let pool: UnsafeMutableRawPointer
    let slotSize: Int
    var entries: [Entry]
    /// Entries waiting for a neighbour, and entries handed to transmit (so idle scans are skipped).
    var waiting = 0
    var queued = 0
    /// How long a frame may wait for its neighbour.
    static let timeout: UInt64 = 1000

    init(slots: Int, slotSize: Int) {
        self.slotSize = slotSize
        pool = .allocate(byteCount: slots * slotSize, alignment: 64)
        entries = Array(repeating: Entry(waitingFor: .zero, interface: 0, length: 0, since: 0, state: 0), count: slots)
    }

    /// Copies a frame (`length` bytes from `base`) into the pool; false when it is full or too big.
    mutating func add(_ base: UnsafeMutableRawPointer, length: Int, waitingFor: IPAddress, interface: Int, now: UInt64) -> Bool {
        guard length <= slotSize, let i = entries.firstIndex(where: { $0.state == 0 }) else { return false }
        (pool + i * slotSize).copyMemory(from: base, byteCount: length)
        entries[i] = Entry(waitingFor: waitingFor, interface: interface, length: length, since: now, state: 1)
        waiting += 1
        return true
    }

    /// Hands every frame waiting for `address` to `send` (they stay allocated until `recycleSent`).
    mutating func take(waitingFor address: IPAddress, _ send: (UnsafeMutableRawPointer, Int, Int) -> Void) {
        guard waiting > 0 else { return }
        for i in entries.indices where entries[i].state == 1 && entries[i].waitingFor == address {
            entries[i].state = 2
            waiting -= 1
            queued += 1
            send(pool + i * slotSize, entries[i].length, entries[i].interface)
        }
    }

    mutating func recycleSent() {
        for i in entries.indices where entries[i].state == 2 { entries[i].state = 0 }
        queued = 0
    }

    mutating func expire(now: UInt64, _ dropped: () -> Void) {
        for i in entries.indices where entries[i].state == 1 && now > entries[i].since + Self.timeout {
            entries[i].state = 0
            waiting -= 1
            dropped()
        }
    }
}
