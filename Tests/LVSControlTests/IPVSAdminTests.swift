import LVSEngine
import LVSPacket
import Testing

@testable import LVSControl

/// lvsadm command lines run in-process against a real Director.
struct AdminBench {
    let director: Director
    let rates = RateEstimator()
    var admin = IPVSAdmin()
    var now = Timestamp(milliseconds: 1000)

    init(capacity: Int = 4096) {
        director = Director(DirectorConfiguration(connectionCapacity: capacity))
    }

    func run(_ line: String, stdin: String = "") -> AdminResponse {
        let args = line.split(separator: " ").map(String.init)
        let request = AdminRequest(arguments: args, stdin: Array(stdin.utf8))
        // Through the wire codec both ways, as lvsadm and lvsd would exchange it.
        let decoded = try! AdminRequest.decode(request.encode())
        let response = admin.run(decoded, director: director, now: now, rates: rates)
        return try! AdminResponse.decode(response.encode())
    }

    /// Runs a command that must succeed; returns its stdout.
    @discardableResult
    func ok(_ line: String, stdin: String = "", sourceLocation: SourceLocation = #_sourceLocation) -> String {
        let r = run(line, stdin: stdin)
        #expect(r.status == 0, "\(line): \(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderr == "", sourceLocation: sourceLocation)
        return r.stdout
    }

    /// Pushes one frame through the engine the way the data plane would.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Verdict {
        var buffer = bytes + [UInt8](repeating: 0, count: 256)
        return buffer.withUnsafeMutableBytes { raw in
            var frame = Frame(base: raw.baseAddress!, length: bytes.count, capacity: raw.count)
            return director.process(&frame, now: now)
        }
    }
}

@Suite struct IPVSAdminTests {
    let vip = IPAddress("10.0.0.100")!
    let rs1 = IPAddress("192.168.10.2")!
    let rs2 = IPAddress("192.168.10.3")!

    func syn(_ client: String, _ port: UInt16) -> [UInt8] {
        PacketBuilder().ethernet().ipv4(src: IPAddress(client)!, dst: vip).tcp(src: port, dst: 80, flags: TCPFlag.syn).bytes()
    }

    /// The lvsadm sequence of a small NAT + DR setup, real SYNs through the engine, then the three
    /// listings an operator looks at, character for character.
    @Test func endToEnd() {
        var bench = AdminBench()
        bench.ok("-A -t 10.0.0.100:80 -s rr")
        bench.ok("-a -t 10.0.0.100:80 -r 192.168.10.2:8080 -m -w 2")
        bench.ok("-a -t 10.0.0.100:80 -r 192.168.10.3:8080 -m")
        bench.ok("--add-service --udp-service 10.0.0.100:53 --scheduler wrr")
        bench.ok("-a -u 10.0.0.100:53 -r 192.168.10.4:5353")  // -g: the port becomes 53

        // rr from the head of the list: .2, .3, .2.
        #expect(bench.send(syn("203.0.113.7", 51514)) == .forward(side: .realServer, nextHop: rs1))
        #expect(bench.send(syn("203.0.113.8", 40022)) == .forward(side: .realServer, nextHop: rs2))
        #expect(bench.send(syn("203.0.113.9", 40023)) == .forward(side: .realServer, nextHop: rs1))
        // The first server answers the first client (SYN-ACK, 40 bytes as well).
        let synAck = PacketBuilder().ethernet().ipv4(src: rs1, dst: IPAddress("203.0.113.7")!)
            .tcp(src: 8080, dst: 51514, flags: TCPFlag.syn | TCPFlag.ack).bytes()
        #expect(bench.send(synAck) == .forward(side: .client, nextHop: IPAddress("203.0.113.7")!))

        #expect(bench.ok("-L -n") == """
            IP Virtual Server version 1.2.1 (size=4096)
            Prot LocalAddress:Port Scheduler Flags
              -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
            TCP  10.0.0.100:80 rr
              -> 192.168.10.2:8080            Masq    2      0          2         
              -> 192.168.10.3:8080            Masq    1      0          1         
            UDP  10.0.0.100:53 wrr
              -> 192.168.10.4:53              Route   1      0          0         

            """)

        #expect(bench.ok("-L -n --stats") == """
            IP Virtual Server version 1.2.1 (size=4096)
            Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
              -> RemoteAddress:Port
            TCP  10.0.0.100:80                       3        3        1      120       40
              -> 192.168.10.2:8080                   2        2        1       80       40
              -> 192.168.10.3:8080                   1        1        0       40        0
            UDP  10.0.0.100:53                       0        0        0        0        0
              -> 192.168.10.4:53                     0        0        0        0        0

            """)

        // 20 s later: SYN_RECV entries (60 s) have 40 s left.
        bench.now = Timestamp(milliseconds: 21_000)
        let listing = bench.ok("-L -n -c")
        let lines = listing.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0] == "IPVS connection entries")
        #expect(lines[1] == "pro expire state       source             virtual            destination")
        #expect(lines.last == "")
        // Row order is the table's; the rows themselves are exact.
        #expect(lines[2...].dropLast().sorted() == [
            "TCP 00:40  SYN_RECV    203.0.113.7:51514  10.0.0.100:80      192.168.10.2:8080",
            "TCP 00:40  SYN_RECV    203.0.113.8:40022  10.0.0.100:80      192.168.10.3:8080",
            "TCP 00:40  SYN_RECV    203.0.113.9:40023  10.0.0.100:80      192.168.10.2:8080",
        ])

        // One service alone: no version line.
        #expect(bench.ok("-L -n -t 10.0.0.100:80 --thresholds") == """
            Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn 
              -> RemoteAddress:Port
            TCP  10.0.0.100:80 rr
              -> 192.168.10.2:8080            0          0          0          2         
              -> 192.168.10.3:8080            0          0          0          1         

            """)

        // Rates, after two estimator ticks 2 s apart (3 conns in the first period).
        bench.rates.tick(services: [], now: Timestamp(milliseconds: 0))
        bench.rates.tick(services: bench.director.services(), now: Timestamp(milliseconds: 2000))
        let rate = bench.ok("-L -n --rate").split(separator: "\n")
        // cps: 3 conns / 2 s -> (3 << 9) >> 2 = 384 -> (384 + 511) >> 10 = 0; bytes 120 / 2 s -> (120 << 4) >> 2
        // = 480 -> (480 + 15) >> 5 = 15.
        #expect(rate[3] == "TCP  10.0.0.100:80                       0        0        0       15        5")
        #expect(rate[4] == "  -> 192.168.10.2:8080                   0        0        0       10        5")

        // -Z zeroes counters and rates.
        bench.ok("-Z")
        let zeroed = bench.ok("-L -n --stats --exact").split(separator: "\n")
        #expect(zeroed[3] == "TCP  10.0.0.100:80                       0        0        0        0        0")
        #expect(bench.ok("-L -n --rate").split(separator: "\n")[3]
            == "TCP  10.0.0.100:80                       0        0        0        0        0")
    }

    @Test func engineErrorsReadLikeIpvsadm() {
        let bench = AdminBench()
        bench.ok("-A -t 10.0.0.100:80 -s rr")
        bench.ok("-a -t 10.0.0.100:80 -r 192.168.10.2:8080 -m")
        let cases: [(String, String)] = [
            ("-A -t 10.0.0.100:80", "Service already exists"),
            ("-A -t 10.0.0.100:81 -s nope", "Scheduler or persistence engine not found"),
            ("-A -t 10.0.0.100:80 -s nope", "Service already exists"),
            ("-E -t 10.0.0.100:81 -s rr", "No such service"),
            ("-E -t 10.0.0.100:80 -s nope", "Scheduler or persistence engine not found"),
            ("-D -u 10.0.0.100:80", "No such service"),
            ("-a -t 10.0.0.100:81 -r 192.168.10.2", "Service not defined"),
            ("-a -t 10.0.0.100:80 -r 192.168.10.2:8080 -m", "Destination already exists"),
            ("-a -t 10.0.0.100:80 -r 192.168.10.3 -m -y 5", "Numerical result out of range"),
            ("-a -t 10.0.0.100:80 -r 192.168.10.3 -m -x 5 -y 6", "Numerical result out of range"),
            ("-e -t 10.0.0.100:80 -r 192.168.10.3:8080 -m", "No such destination"),
            ("-e -t 10.0.0.100:81 -r 192.168.10.3:8080 -m", "Service not defined"),
            ("-d -t 10.0.0.100:80 -r 192.168.10.2", "No such destination"),  // port 80, not 8080
            ("-d -t 10.0.0.100:81 -r 192.168.10.2", "Service not defined"),
            ("-L -t 10.0.0.100:81", "No such service"),
            ("-Z -t 10.0.0.100:81", "No such service"),
            ("-A -t 10.0.0.1:80 -m", "Illegal 'forwarding-method' option with the 'add-service' command"),
            ("-L -q", "-q: unknown option"),
            ("-n", "Try `lvsadm -h' or 'lvsadm --help' for more information."),
            ("-A -t 10.0.0.100:80 -p", "Service already exists"),
            ("-A -f 3 --match tcp:10.0.0.100:79-81", "group entry tcp:10.0.0.100:79-81 overlaps the service TCP 10.0.0.100:80"),
        ]
        for (line, message) in cases {
            let r = bench.run(line)
            #expect(r == AdminResponse(status: 1, stdout: "", stderr: message + "\n"), "\(line)")
        }
        // Nothing above changed the table.
        #expect(bench.ok("-S") == """
            -A -t 10.0.0.100:80 -s rr
            -a -t 10.0.0.100:80 -r 192.168.10.2:8080 -m -w 1

            """)
    }

    @Test func editsFollowIpvsadmDefaults() {
        let bench = AdminBench()
        bench.ok("-A -t 10.0.0.100:80 -s rr")
        bench.ok("-a -t 10.0.0.100:80 -r 192.168.10.2:8080 -m -w 5 -x 100 -y 10")
        #expect(bench.director.service(ServiceKey(.tcp, vip, 80))?.destinations.first?.upperThreshold == 100)
        // -e without -w and -x: weight back to 1, thresholds to 0 (ipvsadm sends every field).
        bench.ok("-e -t 10.0.0.100:80 -r 192.168.10.2:8080 -m")
        let d = bench.director.service(ServiceKey(.tcp, vip, 80))!.destinations[0]
        #expect(d.weight == 1 && d.upperThreshold == 0 && d.lowerThreshold == 0)
        // -E without -s: back to wlc.
        bench.ok("-E -t 10.0.0.100:80")
        #expect(bench.director.service(ServiceKey(.tcp, vip, 80))?.scheduler == "wlc")
        bench.ok("-d -t 10.0.0.100:80 -r 192.168.10.2:8080")
        bench.ok("-D -t 10.0.0.100:80")
        #expect(bench.director.services().isEmpty)
    }

    @Test func timeouts() {
        let bench = AdminBench()
        #expect(bench.ok("-L --timeout") == "Timeout (tcp tcpfin udp): 900 120 300\n")
        bench.ok("--set 3600 0 10")
        #expect(bench.ok("-L --timeout") == "Timeout (tcp tcpfin udp): 3600 120 10\n")
        #expect(bench.director.currentTimeouts.udp == 10_000)
    }

    @Test func flushAndDaemonAndHelp() {
        let bench = AdminBench()
        bench.ok("-A -t 10.0.0.100:80")
        bench.ok("-C")
        #expect(bench.ok("-L -n") == """
            IP Virtual Server version 1.2.1 (size=4096)
            Prot LocalAddress:Port Scheduler Flags
              -> RemoteAddress:Port           Forward Weight ActiveConn InActConn

            """)
        #expect(bench.ok("-L --daemon") == "")
        #expect(bench.ok("-h").contains("--add-service     -A"))
        #expect(bench.ok("-v").contains("ipvsadm v1.31"))
        #expect(bench.ok("") == bench.ok("-L"))
    }

    static let saved = """
        -A -t 10.0.0.100:80 -s wlc
        -a -t 10.0.0.100:80 -r 192.168.100.2:80 -m -w 1
        -a -t 10.0.0.100:80 -r 192.168.100.3:8080 -m -w 2
        -A -t 10.0.0.100:443 -s rr
        -a -t 10.0.0.100:443 -r 192.168.100.2:443 -g -w 1
        -a -t 10.0.0.100:443 -r 192.168.100.3:443 -g -w 0
        -A -u 10.0.0.53:53 -s wrr
        -a -u 10.0.0.53:53 -r 192.168.100.10:53 -m -w 1
        -A -t [2001:db8::100]:80 -s lc
        -a -t [2001:db8::100]:80 -r [fd00::2]:8080 -m -w 7

        """

    @Test func saveRestoreRoundTrip() {
        let a = AdminBench()
        a.ok("-R", stdin: IPVSAdminTests.saved)
        #expect(a.ok("-S -n") == IPVSAdminTests.saved)
        // What -S printed restores into an empty director as the same table.
        let b = AdminBench()
        b.ok("--restore", stdin: a.ok("--save"))
        #expect(b.ok("-S") == IPVSAdminTests.saved)
        #expect(b.ok("-L -n") == a.ok("-L -n"))
        // ipvsadm-restore style input: "ipvsadm" words, blank lines, comments, CRLF.
        let c = AdminBench()
        c.ok("-R", stdin: "# saved by hand\r\n\nipvsadm -A -t 10.0.0.100:80 -s wlc   # web\r\n  -a -t 10.0.0.100:80 -r 192.168.100.2:80 -m\n")
        #expect(c.ok("-S") == "-A -t 10.0.0.100:80 -s wlc\n-a -t 10.0.0.100:80 -r 192.168.100.2:80 -m -w 1\n")
    }

    @Test func restoreStopsAtTheFirstError() {
        let bench = AdminBench()
        let input = """
            -A -t 10.0.0.100:80 -s rr
            -a -t 10.0.0.100:80 -r 192.168.10.2:8080 -m

            -A -t 10.0.0.100:80 -s rr
            -A -t 10.0.0.100:81 -s rr
            """
        let r = bench.run("-R", stdin: input)
        #expect(r == AdminResponse(status: 1, stdout: "", stderr: "line 4: Service already exists\n"))
        #expect(bench.ok("-S") == "-A -t 10.0.0.100:80 -s rr\n-a -t 10.0.0.100:80 -r 192.168.10.2:8080 -m -w 1\n")
        #expect(bench.run("-R", stdin: "-A -t 10.0.0.1:80\n-A -t 10.0.0.1:0\n").stderr
            == "line 2: Zero port specified for non-persistent service\n")
        #expect(bench.run("-R", stdin: "-R\n").stderr
            == "line 1: Try `lvsadm -h' or 'lvsadm --help' for more information.\n")
        // Listing commands inside a restore print as they would on their own.
        #expect(bench.ok("-R", stdin: "-L --timeout\n") == "Timeout (tcp tcpfin udp): 900 120 300\n")
    }

    @Test func oversizedOutputIsCutToFitTheWire() {
        let line = String(repeating: "x", count: 99) + "\n"
        let big = String(repeating: line, count: (AdminWire.maxFrameSize / 100) + 10)
        let fitted = IPVSAdmin.fitted(AdminResponse(status: 0, stdout: big, stderr: "warn\n"))
        let bytes = fitted.encode()
        #expect(bytes.count <= AdminWire.maxFrameSize)
        #expect(fitted.stdout.hasSuffix(line))
        #expect(fitted.stdout.utf8.count % 100 == 0)
        #expect(fitted.stderr == "warn\noutput truncated: more than 16 MiB\n")
        #expect((try? AdminResponse.decode(bytes)) == fitted)
        let small = AdminResponse(status: 0, stdout: line)
        #expect(IPVSAdmin.fitted(small) == small)
    }
}

