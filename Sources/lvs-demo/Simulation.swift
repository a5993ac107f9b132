#if canImport(Glibc)
import Glibc
#endif
import LVSControl
import LVSEngine
import LVSPacket

// `lvs-demo simulate`: a VS/NAT cluster simulated through the real engine, in one process and
// without privileges. Clients open TCP connections to the VIP; three simulated real servers answer
// with their own name; every frame in both directions goes through Director.process, so the
// split, the rewrites, the TCP states and the counters shown are the engine's own.

/// `lvs-demo simulate [N]`: the in-process engine demo (no privileges needed).
func simulate(requests: Int) -> Int32 {

    let vip = IPAddress("10.0.0.100")!
    let service = ServiceKey(.tcp, vip, 80)
    let servers: [(name: String, address: IPAddress)] = [
        ("rs1", IPAddress("192.168.10.2")!), ("rs2", IPAddress("192.168.10.3")!), ("rs3", IPAddress("192.168.10.4")!),
    ]
    let rsPort: UInt16 = 8080

    let director = Director(DirectorConfiguration(connectionCapacity: 1 << 16))
    do {
        try director.addService(ServiceSpec(service, scheduler: "rr"))
        for s in servers {
            try director.addDestination(DestinationSpec(address: s.address, port: rsPort, method: .masquerade), to: service)
        }
    } catch {
        print("lvs-demo: cannot configure the director: \(error)")
        return 1
    }

    let buffer = UnsafeMutableRawPointer.allocate(byteCount: 2048, alignment: 64)
    defer { buffer.deallocate() }
    var now = Timestamp(milliseconds: 1_000)

    /// Sends one frame through the director; returns the verdict and the frame as rewritten.
    func send(_ frame: [UInt8]) -> (Verdict, [UInt8]) {
        frame.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: frame.count) }
        var f = Frame(base: buffer, length: frame.count, capacity: 2048)
        let v = director.process(&f, now: now)
        return (v, Array(UnsafeRawBufferPointer(start: buffer, count: f.length)))
    }

    func parse(_ bytes: [UInt8]) -> PacketInfo? {
        var copy = bytes
        return copy.withUnsafeMutableBytes { b in
            if case .ok(let p) = PacketParser.parse(b) { return p }
            return nil
        }
    }

    /// The HTTP body: the bytes after the blank line that ends the headers.
    func body(_ bytes: [UInt8], _ p: PacketInfo) -> String {
        let tcpHeader = Int(bytes[p.l4Offset + 12] >> 4) * 4
        let segment = Array(bytes[(p.l4Offset + tcpHeader)..<p.l3End])
        var i = 0
        while i + 4 <= segment.count && segment[i..<(i + 4)] != [13, 10, 13, 10] { i += 1 }
        return i + 4 <= segment.count ? String(decoding: segment[(i + 4)...], as: UTF8.self) : ""
    }

    var answeredBy: [String: Int] = [:]
    var failures: [String] = []
    let eth = PacketBuilder().ethernet()

    for i in 0..<requests {
        let client = IPAddress(198, 51, 100, UInt8(10 + i % 200))
        let cport = UInt16(20000 + i % 40000)
        func fail(_ why: String) { if failures.count < 5 { failures.append("request \(i): \(why)") } }

        // Client SYN to the VIP: the director picks a server and rewrites the destination.
        let (v1, syn) = send(eth.ipv4(src: client, dst: vip).tcp(src: cport, dst: 80, flags: TCPFlag.syn, seq: 100).bytes())
        guard case .forward(.realServer, let rip) = v1, let ps = parse(syn), ps.dst == rip, ps.dstPort == rsPort,
            let server = servers.first(where: { $0.address == rip })
        else { fail("SYN not forwarded to a real server: \(v1)"); continue }

        // The server's SYN-ACK comes back through the director with the VIP as its source.
        let (v2, synAck) = send(eth.ipv4(src: rip, dst: client).tcp(src: rsPort, dst: cport, flags: TCPFlag.syn | TCPFlag.ack, seq: 500, ack: 101).bytes())
        guard case .forward(.client, client) = v2, let pa = parse(synAck), pa.src == vip, pa.srcPort == 80 else {
            fail("SYN-ACK not translated: \(v2)"); continue
        }
        // Request, response (with the server's name), and the close in both directions.
        _ = send(eth.ipv4(src: client, dst: vip).tcp(src: cport, dst: 80, flags: TCPFlag.ack | TCPFlag.psh, seq: 101, ack: 501)
            .payload("GET / HTTP/1.0\r\n\r\n").bytes())
        let (v4, response) = send(eth.ipv4(src: rip, dst: client)
            .tcp(src: rsPort, dst: cport, flags: TCPFlag.ack | TCPFlag.psh | TCPFlag.fin, seq: 501, ack: 119)
            .payload("HTTP/1.0 200 OK\r\n\r\n\(server.name)").bytes())
        guard case .forward(.client, client) = v4, let pr = parse(response), pr.src == vip else {
            fail("response not translated: \(v4)"); continue
        }
        let name = body(response, pr)
        guard name == server.name else { fail("answer \(name) did not come from \(server.name)"); continue }
        answeredBy[name, default: 0] += 1
        _ = send(eth.ipv4(src: client, dst: vip).tcp(src: cport, dst: 80, flags: TCPFlag.ack | TCPFlag.fin, seq: 119, ack: 541).bytes())
        _ = send(eth.ipv4(src: rip, dst: client).tcp(src: rsPort, dst: cport, flags: TCPFlag.ack, seq: 542, ack: 120).bytes())

        now = Timestamp(milliseconds: now.milliseconds + 1)
        if i % 256 == 0 { director.advance(to: now) }
    }

    print("SwiftLVS engine demo: \(requests) HTTP requests from simulated clients to \(service.description)")
    print("(VS/NAT, rr, 3 real servers; every frame of both directions went through Director.process)\n")
    print(IPVSListing.stats(director.services(), size: 1 << 16), terminator: "")
    print("\nResponses by real server (the name each server put in its body):")
    for s in servers { print("  \(s.name) \(s.address):\(rsPort)  \(answeredBy[s.name, default: 0])") }
    let c = director.counters
    print("\nFrames to real servers: \(c.forwardedToRealServer), to clients: \(c.forwardedToClient), dropped: \(c.drops.reduce(0, +))")
    print("Connections tracked now: \(director.connectionCount) (TIME_WAIT/CLOSE until their timeouts)")
    director.advance(to: Timestamp(milliseconds: now.milliseconds + 130_000))
    print("Connections tracked 130 s later: \(director.connectionCount)")
    if !failures.isEmpty {
        print("\nFAILURES:")
        failures.forEach { print("  " + $0) }
        return 1
    }

    return 0
}
