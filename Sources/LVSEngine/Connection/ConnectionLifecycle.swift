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
    /// `failure` set. A persistent service goes through its template (`persistentDestination`).
    @inlinable
    func create(_ p: PacketInfo, _ svc: Int, _ now: Timestamp, failure: inout DropReason) -> UInt32 {
        var tpl = nilIndex
        let ds: UInt32
        if persistTimeouts[svc] != 0 {
            ds = persistentDestination(svc, p, now, template: &tpl, failure: &failure)
            if ds == nilIndex { return nilIndex }
        } else {
            ds = scheduleDestination(svc, p, now)
            if ds == nilIndex {
                failure = .noDestination
                return nilIndex
            }
        }
        // Double-NAT / FULLNAT: the local port comes before the entry (its OUT key needs it).
        var lip: UInt16 = 0
        let localPort = takeLocalPort(svc, p, ds, lip: &lip)
        if localPort == nilIndex {
            failure = .portsExhausted
            return nilIndex
        }
        let ci = table.allocate()
        if ci == nilIndex {
            if localPort != 0 {
                let counts = dests[Int(ds)].method == .fullNAT ? localPortCounts[Int(lip)] : virtualPorts[svc].counts
                counts?[Int(localPort)] &-= 1
            }
            failure = .tableFull
            return nilIndex
        }
        let c = table.entries + Int(ci)
        c.pointee.localPort = UInt16(truncatingIfNeeded: localPort)
        c.pointee.localAddress = lip
        c.pointee.seqDelta = 0
        c.pointee.client = p.src
        c.pointee.virtual = p.dst
        c.pointee.clientPort = p.srcPort
        c.pointee.virtualPort = p.dstPort
        c.pointee.proto = p.l4Protocol
        c.pointee.service = UInt16(truncatingIfNeeded: svc)
        c.pointee.expires = now.milliseconds &+ Director.initialTimeout
        bind(c, ds)
        markProxy(c, svc)
        attach(c, tpl)
        table.link(ci)
        serviceStats[svc].connections &+= 1
        hot[Counter.created] &+= 1
        return ci
    }

    /// The local port (and, for FULLNAT, the LIP) a new connection to destination `ds` needs:
    /// 0 for methods without one, `nilIndex` when the pool is exhausted for that server.
    @inlinable @inline(__always)
    func takeLocalPort(_ svc: Int, _ p: PacketInfo, _ ds: UInt32, lip: inout UInt16) -> UInt32 {
        let dest = dests + Int(ds)
        switch dest.pointee.method {
        case .doubleNAT:
            return allocateVirtualPort(svc, proto: p.l4Protocol, vip: p.dst, dest: dest.pointee.address, dport: dest.pointee.port)
        case .fullNAT:
            return allocateLocalPort(svc, proto: p.l4Protocol, dest: dest.pointee.address, dport: dest.pointee.port, lip: &lip)
        default:
            return 0
        }
    }

    /// A new FULLNAT connection of a PROXY v2 or TOA service waits for its first payload byte
    /// (PROXY v2) or its first ACK after the handshake (TOA).
    @inlinable @inline(__always)
    func markProxy(_ c: UnsafeMutablePointer<Connection>, _ svc: Int) {
        c.pointee.seqDelta = 0
        if c.pointee.method == ForwardingMethod.fullNAT.rawValue && (virtualPorts[svc].proxyV2 || virtualPorts[svc].toa) {
            c.pointee.flags |= Connection.flagProxyPending
        }
    }

    /// Links a connection to its template (IPVS ip_vs_control_add).
    @inlinable @inline(__always)
    func attach(_ c: UnsafeMutablePointer<Connection>, _ tpl: UInt32) {
        c.pointee.control = tpl
        if tpl != nilIndex { table.entries[Int(tpl)].nControl &+= 1 }
    }

    /// The destination for a new connection of persistent service `svc` (IPVS ip_vs_sched_persist):
    /// the valid template's, or a freshly scheduled one recorded in a new template. On success
    /// `template` is the template and at least one table entry is left for the connection.
    @usableFromInline
    func persistentDestination(_ svc: Int, _ p: PacketInfo, _ now: Timestamp, template: inout UInt32,
                               failure: inout DropReason, entriesNeeded: Int = 2) -> UInt32 {
        guard let record = records[svc] else {
            failure = .noDestination
            return nilIndex
        }
        let timeout = persistTimeouts[svc]
        let mask = record.persistMask
        let cnet = IPAddress(hi: p.src.hi & mask.hi, lo: p.src.lo & mask.lo)
        // The template's key per service kind (spec 2.4): a port service keys on VIP:vport, a
        // port-0 service on VIP:0, a group on (IPPROTO_IP, mark-as-address, 0).
        let tplProto = record.key.fwmark != 0 ? 0 : p.l4Protocol
        let tplVirtual = record.templateAddress ?? p.dst
        let tplPort = record.templateWildPort ? 0 : p.dstPort
        let found = table.lookupTemplate(tplProto, client: cnet, virtual: tplVirtual, vport: tplPort)
        if found != nilIndex {
            let t = table.entries + Int(found)
            let d = dests[Int(t.pointee.destSlot)]
            if d.isAvailable && !(expireQuiescentTemplate && d.weight == 0) {
                if table.free < entriesNeeded - 1 {
                    failure = .tableFull
                    return nilIndex
                }
                refresh(found, expires: now.milliseconds &+ timeout)
                template = found
                return t.pointee.destSlot
            }
            // Invalid: never matched again; it dies on its own timer (now, if nothing uses it).
            if t.pointee.nControl == 0 {
                expireNow(found)
            } else {
                t.pointee.flags |= Connection.flagDeadTemplate
            }
        }
        let ds = scheduleDestination(svc, p, now)
        if ds == nilIndex {
            failure = .noDestination
            return nilIndex
        }
        guard table.free >= entriesNeeded else {
            failure = .tableFull
            return nilIndex
        }
        let ti = table.allocate()
        let t = table.entries + Int(ti)
        let dest = dests + Int(ds)
        t.pointee.client = cnet
        t.pointee.virtual = tplVirtual
        t.pointee.clientPort = 0
        t.pointee.virtualPort = tplPort
        t.pointee.proto = tplProto | Connection.templateProto
        t.pointee.service = UInt16(truncatingIfNeeded: svc)
        t.pointee.dest = dest.pointee.address
        t.pointee.destPort = dest.pointee.port
        t.pointee.destSlot = ds
        t.pointee.method = dest.pointee.method.rawValue
        t.pointee.state = TCPState.none.rawValue
        t.pointee.flags = Connection.flagTemplate
        t.pointee.control = nilIndex
        t.pointee.nControl = 0
        t.pointee.expires = now.milliseconds &+ timeout
        dest.pointee.persistConns &+= 1
        table.link(ti)
        template = ti
        return ds
    }

    /// Points a connection (fields other than the destination already set) at destination `ds`.
    @inlinable @inline(__always)
    func bind(_ c: UnsafeMutablePointer<Connection>, _ ds: UInt32) {
        let dest = dests + Int(ds)
        c.pointee.dest = dest.pointee.address
        // A server of a group or port-0 service listed with port 0 gets the packet's own port.
        let port = dest.pointee.port
        c.pointee.destPort = port != 0 ? port : c.pointee.virtualPort
        c.pointee.destSlot = ds
        c.pointee.method = dest.pointee.method.rawValue
        c.pointee.state = TCPState.none.rawValue
        // Keep the in-use bit: a reused entry stays linked while it is re-pointed.
        c.pointee.flags = (c.pointee.flags & Connection.flagInUse) | Connection.flagInactive
            | (dest.pointee.method.repliesThroughDirector ? 0 : Connection.flagNoOutput)
            | (dest.pointee.method.translatesSource ? Connection.flagLocalOut : 0)
        dest.pointee.bind()
    }

    /// Releases a connection's (or template's) hold on its destination.
    @usableFromInline
    static func unbind(_ c: UnsafeMutablePointer<Connection>, _ dests: UnsafeMutablePointer<DestinationState>) {
        if c.pointee.flags & Connection.flagTemplate != 0 {
            dests[Int(c.pointee.destSlot)].persistConns &-= 1
            return
        }
        dests[Int(c.pointee.destSlot)].unbind(wasActive: c.pointee.flags & Connection.flagInactive == 0)
    }

    /// Drops a connection's link to its template; the last one to go leaves the template the full
    /// persistence timeout from `now` (persistence lasts the timeout after the last connection).
    @usableFromInline
    static func releaseControl(_ entries: UnsafeMutablePointer<Connection>, _ c: UnsafeMutablePointer<Connection>,
                               _ now: UInt64, _ persistTimeouts: UnsafeMutablePointer<UInt64>) {
        let ti = c.pointee.control
        if ti == nilIndex { return }
        c.pointee.control = nilIndex
        let t = entries + Int(ti)
        t.pointee.nControl &-= 1
        if t.pointee.nControl == 0 {
            let e = now &+ persistTimeouts[Int(t.pointee.service)]
            if e > t.pointee.expires { t.pointee.expires = e }  // later: the wheel re-files it lazily
        }
    }

    /// Removes a connection now (expire_nodest_conn, reuse failures, service removal).
    @usableFromInline
    func expireNow(_ ci: UInt32, now: Timestamp? = nil) {
        let c = table.entries + Int(ci)
        Director.unbind(c, dests)
        Director.releaseVirtualPort(c, virtualPorts, localPortCounts)
        if c.pointee.control != nilIndex {
            let at = now?.milliseconds ?? table.lastTick << ConnectionTable.tickShift
            Director.releaseControl(table.entries, c, at, persistTimeouts)
        }
        table.release(ci)
        hot[Counter.expired] &+= 1
    }

    /// Re-points an existing entry at a newly scheduled destination (a SYN that reuses a finished
    /// or orphaned connection's tuple): no SYN is dropped, unlike IPVS before Linux 5.9.
    @inlinable
    func reuse(_ ci: UInt32, _ p: PacketInfo, _ svc: Int, _ now: Timestamp, failure: inout DropReason) -> Bool {
        let c = table.entries + Int(ci)
        var tpl = nilIndex
        let ds: UInt32
        Director.releaseControl(table.entries, c, now.milliseconds, persistTimeouts)
        if persistTimeouts[svc] != 0 {
            ds = persistentDestination(svc, p, now, template: &tpl, failure: &failure, entriesNeeded: 1)
        } else {
            ds = scheduleDestination(svc, p, now)
            failure = .noDestination
        }
        if ds == nilIndex {
            expireNow(ci, now: now)
            return false
        }
        var lip: UInt16 = 0
        let localPort = takeLocalPort(svc, p, ds, lip: &lip)
        if localPort == nilIndex {
            failure = .portsExhausted
            expireNow(ci, now: now)
            return false
        }
        Director.unbind(c, dests)
        Director.releaseVirtualPort(c, virtualPorts, localPortCounts)
        table.unlinkOut(ci)
        c.pointee.localPort = UInt16(truncatingIfNeeded: localPort)
        c.pointee.localAddress = lip
        bind(c, ds)
        markProxy(c, svc)
        attach(c, tpl)
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
