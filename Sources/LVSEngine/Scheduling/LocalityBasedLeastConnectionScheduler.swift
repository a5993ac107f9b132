/// lblc (ip_vs_lblc.c): locality-based least-connection, for cache clusters. Keyed by the
/// packet's destination address, each entry remembers the server last chosen for it.
///
/// On a hit the entry's use time is refreshed, and its server is kept if it has weight > 0 and is
/// not overloaded in the LBLC sense: activeconns > weight while some server of the service has
/// 2 × activeconns < weight. (As in IPVS, the OVERLOAD flag of the cached server is not consulted
/// here; it only keeps a server out of the weighted-least-connection pass.) Otherwise — a miss, a
/// removed or quiesced server, or LBLC overload — the weighted-least-connection server of the
/// whole service (wlc's rule) is chosen and stored in the entry. Entries expire as
/// `LocalityTable` describes (24 h unused by default; 6 min unused when the table is over 16,384
/// entries).
public final class LocalityBasedLeastConnectionScheduler: Scheduler {
    public static let name = "lblc"

    var table = LocalityTable(replicated: false)

    /// The lblc_expiration sysctl (ms): unused entries older than this go in the full sweep.
    public var expiration: UInt64 {
        get { table.expiration }
        set { table.expiration = newValue }
    }

    /// Entries currently cached.
    public var entryCount: Int { table.count }

    public init() {}

    public func update(_ servers: DestinationList, change: DestinationChange) {
        switch change {
        case .removed(let p): table.serverRemoved(at: p)
        case .reset: table.clear()
        case .added, .edited: break
        }
    }

    public func schedule(_ servers: DestinationList, _ input: SchedulingInput) -> Int? {
        let now = input.now.milliseconds
        table.tick(now)
        let key = input.virtualAddress
        let e = table.find(key)
        if e >= 0 {
            table.entries[e].lastUse = now
            let p = Int(table.entries[e].value)
            if p >= 0 && p < servers.count && servers.weight(p) > 0 && !servers.isLocalityOverloaded(p) {
                return p
            }
        }
        guard let p = servers.weightedLeastConnection() else { return nil }
        if e >= 0 {
            // ip_vs_lblc_new replaces the entry with a fresh one (use time = now, already set).
            table.entries[e].value = Int32(p)
        } else {
            _ = table.insert(key, value: Int32(p), now: now)
        }
        return p
    }
}
