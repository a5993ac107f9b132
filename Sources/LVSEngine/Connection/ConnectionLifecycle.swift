import LVSPacket

// Creating, stepping and expiring connections (ip_vs_conn.c, ip_vs_proto_tcp.c set_tcp_state).
extension Director {
    /// TCP states from which a new SYN starts a new connection (conn_reuse_mode 1).
    @inlinable @inline(__always)
    static func isFinished(_ state: UInt8) -> Bool {
        state == TCPState.timeWait.rawValue || state == TCPState.close.rawValue
    }

    /// Picks a destination slot for a new connection of service `svc`, or `nilIndex`.
    @usableFromInline
    func scheduleDestination(_ svc: Int, _ p: PacketInfo, _ now: Timestamp) -> UInt32 {
        guard let record = records[svc] else { return nilIndex }
        let input = SchedulingInput(
            proto: p.l4Protocol, clientAddress: p.src, clientPort: p.srcPort, virtualAddress: p.dst,
            virtualPort: p.dstPort, random: nextRandom(), now: now)
        let dests = UnsafePointer(self.dests)
        let scheduler = record.scheduler
        return record.destSlots.withUnsafeBufferPointer { slots in
            guard let i = scheduler.schedule(DestinationList(states: dests, slots: slots), input) else {
                return nilIndex
            }
            return slots[i]
        }
    }

    /// Creates a connection for the first packet of a flow; returns its index or `nilIndex` with
    /// `failure` set.
    @inlinable
    func create(_ p: PacketInfo, _ svc: Int, _ now: Timestamp, failure: inout DropReason) -> UInt32 {
        let ds = scheduleDestination(svc, p, now)
        if ds == nilIndex {
            failure = .noDestination
            return nilIndex
        }
        let ci = table.allocate()
        if ci == nilIndex {
            failure = .tableFull
            return nilIndex
        }
        let c = table.entries + Int(ci)
        c.pointee.client = p.src
        c.pointee.virtual = p.dst
        c.pointee.clientPort = p.srcPort
        c.pointee.virtualPort = p.dstPort
        c.pointee.proto = p.l4Protocol
        c.pointee.service = UInt16(truncatingIfNeeded: svc)
        c.pointee.expires = now.milliseconds &+ Director.initialTimeout
        bind(c, ds)
        table.link(ci)
        serviceStats[svc].connections &+= 1
        hot[Counter.created] &+= 1
        return ci
    }

    /// Points a connection (fields other than the destination already set) at destination `ds`.
    @inlinable @inline(__always)
    func bind(_ c: UnsafeMutablePointer<Connection>, _ ds: UInt32) {
        let dest = dests + Int(ds)
        c.pointee.dest = dest.pointee.address
        c.pointee.destPort = dest.pointee.port
        c.pointee.destSlot = ds
        c.pointee.method = dest.pointee.method.rawValue
        c.pointee.state = TCPState.none.rawValue
        // Keep the in-use bit: a reused entry stays linked while it is re-pointed.
        c.pointee.flags = (c.pointee.flags & Connection.flagInUse) | Connection.flagInactive
            | (dest.pointee.method == .masquerade ? 0 : Connection.flagNoOutput)
        dest.pointee.bind()
    }

    /// Releases a connection's hold on its destination.
    @usableFromInline
    static func unbind(_ c: UnsafeMutablePointer<Connection>, _ dests: UnsafeMutablePointer<DestinationState>) {
        dests[Int(c.pointee.destSlot)].unbind(wasActive: c.pointee.flags & Connection.flagInactive == 0)
    }

    /// Removes a connection now (expire_nodest_conn, reuse failures, service removal).
    @usableFromInline
    func expireNow(_ ci: UInt32) {
        Director.unbind(table.entries + Int(ci), dests)
        table.release(ci)
        hot[Counter.expired] &+= 1
    }

    /// Re-points an existing entry at a newly scheduled destination (a SYN that reuses a finished
    /// or orphaned connection's tuple): no SYN is dropped, unlike IPVS before Linux 5.9.
    @inlinable
    func reuse(_ ci: UInt32, _ p: PacketInfo, _ svc: Int, _ now: Timestamp, failure: inout DropReason) -> Bool {
        let ds = scheduleDestination(svc, p, now)
        if ds == nilIndex {
            expireNow(ci)
            failure = .noDestination
            return false
        }
        let c = table.entries + Int(ci)
        Director.unbind(c, dests)
        table.unlinkOut(ci)
        bind(c, ds)
        table.linkOut(ci)
        table.reschedule(ci, expires: now.milliseconds &+ Director.initialTimeout)
        serviceStats[svc].connections &+= 1
        hot[Counter.reused] &+= 1
        return true
    }

    /// Steps the TCP state machine for a segment and refreshes the timeout, moving the connection
    /// between ActiveConn and InActConn as IPVS does (ActiveConn == ESTABLISHED).
    @inlinable @inline(__always)
    func step(_ ci: UInt32, flags: UInt8, direction: PacketDirection, _ now: Timestamp) {
        let c = table.entries + Int(ci)
        let old = c.pointee.state
        let i = TCPStateMachine.index(old, flags: flags, direction: direction)
        let new = i < 0 ? TCPState.close.rawValue : stateTable[i]
        let expires = now.milliseconds &+ tcpTimeouts[Int(new)]
        if new != old {
            let dest = dests + Int(c.pointee.destSlot)
            let established = TCPState.established.rawValue
            if c.pointee.flags & Connection.flagInactive == 0 {
                if new != established {
                    dest.pointee.activeConns &-= 1
                    dest.pointee.inactiveConns &+= 1
                    c.pointee.flags |= Connection.flagInactive
                }
            } else if new == established {
                dest.pointee.inactiveConns &-= 1
                dest.pointee.activeConns &+= 1
                c.pointee.flags &= ~Connection.flagInactive
            }
            c.pointee.state = new
        }
        refresh(ci, expires: expires)
    }

    /// Restarts a connection's timer: later expiries just move the stored time (the wheel re-files
    /// lazily); an earlier one (a shorter timeout than the one it was filed under) re-files now,
    /// so lowered timeouts take effect at once.
    @inlinable @inline(__always)
    func refresh(_ ci: UInt32, expires: UInt64) {
        let c = table.entries + Int(ci)
        if expires < c.pointee.expires {
            table.reschedule(ci, expires: expires)
        } else {
            c.pointee.expires = expires
        }
    }

    /// Frees slots of removed destinations that no connection references any more.
    func reapDestinations() {
        var pending = 0
        for i in 0..<destHighWater {
            let d = dests + i
            guard d.pointee.flags & DestinationState.flagInUse != 0, !d.pointee.isAvailable else { continue }
            if d.pointee.references == 0 {
                d.pointee = DestinationState()
                freeDestSlots.append(UInt32(i))
            } else {
                pending += 1
            }
        }
        removedDestinationsPending = pending
    }
}
