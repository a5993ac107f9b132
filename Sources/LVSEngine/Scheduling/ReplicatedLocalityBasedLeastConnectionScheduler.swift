/// lblcr (ip_vs_lblcr.c): locality-based least-connection with replication. Keyed by the packet's
/// destination address, each entry holds a set of servers (newest first).
///
/// On a hit the entry's use time is refreshed and the set's weighted-least-connection member is
/// taken (members that are not OVERLOAD with weight > 0; ties to the earliest in the set, i.e. the
/// most recently added). Then, if the set has more than one member and it has not changed for
/// `expiration` (now > lastmod + expiration), its most loaded member (maximum overhead/weight
/// among members with weight > 0, ties to the earliest) is dropped to limit replication. If the
/// taken member exists and is not overloaded in the LBLC sense (activeconns > weight while some
/// server of the service has 2 × activeconns < weight), it is used. Otherwise the
/// weighted-least-connection server of the whole service is used and added to the set. On a miss
/// that server starts a new one-member set. Entries expire as `LocalityTable` describes.
public final class ReplicatedLocalityBasedLeastConnectionScheduler: Scheduler {
    public static let name = "lblcr"

    var table = LocalityTable(replicated: true)

    /// The lblcr_expiration sysctl (ms): unused entries older than this go in the full sweep, and
    /// a set unchanged this long sheds its most loaded member.
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

    /// The members of entry `e`'s set, newest first (tests and listings).
    func members(_ e: Int) -> [Int] {
        var out: [Int] = []
        var el = Int(table.entries[e].value)
        while el >= 0 {
            out.append(Int(table.elements[el].position))
            el = Int(table.elements[el].next)
        }
        return out
    }

    /// `ip_vs_dest_set_min`.
    func setMin(_ servers: DestinationList, _ e: Int) -> Int {
        var el = Int(table.entries[e].value)
        var least = -1
        while el >= 0 {
            let p = Int(table.elements[el].position)
            el = Int(table.elements[el].next)
            if !servers.isOverloaded(p) && servers.weight(p) > 0 {
                least = p
                break
            }
        }
        guard least >= 0 else { return -1 }
        var loh = servers.overhead(least)
        var lw = UInt64(servers.weight(least))
        while el >= 0 {
            let p = Int(table.elements[el].position)
            el = Int(table.elements[el].next)
            let w = servers.weight(p)
            if servers.isOverloaded(p) || w <= 0 { continue }
            let doh = servers.overhead(p)
            if loh &* UInt64(w) > doh &* lw {
                least = p
                loh = doh
                lw = UInt64(w)
            }
        }
        return least
    }

    /// `ip_vs_dest_set_max` (the OVERLOAD flag plays no part).
    func setMax(_ servers: DestinationList, _ e: Int) -> Int {
        var el = Int(table.entries[e].value)
        var most = -1
        while el >= 0 {
            let p = Int(table.elements[el].position)
            el = Int(table.elements[el].next)
            if servers.weight(p) > 0 {
                most = p
                break
            }
        }
        guard most >= 0 else { return -1 }
        var moh = servers.overhead(most)
        var mw = UInt64(servers.weight(most))
        while el >= 0 {
            let p = Int(table.elements[el].position)
            el = Int(table.elements[el].next)
            let w = servers.weight(p)
            guard w > 0 else { continue }
            let doh = servers.overhead(p)
            if moh &* UInt64(w) < doh &* mw {
                most = p
                moh = doh
                mw = UInt64(w)
            }
        }
        return most
    }

    public func schedule(_ servers: DestinationList, _ input: SchedulingInput) -> Int? {
        let now = input.now.milliseconds
        table.tick(now)
        let key = input.virtualAddress
        let e = table.find(key)
        guard e >= 0 else {
            guard let p = servers.weightedLeastConnection() else { return nil }
            let new = table.insert(key, value: -1, now: now)
            if new >= 0 { table.setInsert(new, p, now: now) }
            return p
        }
        table.entries[e].lastUse = now
        let p = setMin(servers, e)
        if table.entries[e].setSize > 1 && now > table.entries[e].lastMod &+ table.expiration {
            let m = setMax(servers, e)
            if m >= 0 { table.setErase(e, m, now: now) }
        }
        if p >= 0 && !servers.isLocalityOverloaded(p) { return p }
        guard let w = servers.weightedLeastConnection() else { return nil }
        table.setInsert(e, w, now: now)
        return w
    }
}
