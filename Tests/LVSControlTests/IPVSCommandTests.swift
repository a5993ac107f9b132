import LVSEngine
import LVSPacket
import Testing

@testable import LVSControl

/// ipvsadm 1.31's command-line rules and messages (ipvsadm.c parse_options, process_options,
/// generic_opt_check, parse_service).
@Suite struct IPVSCommandTests {
    let vip = IPAddress("10.0.0.100")!
    let rip = IPAddress("192.168.10.2")!
    var web: ServiceKey { ServiceKey(.tcp, vip, 80) }

    func parse(_ line: String) throws(IPVSCommandError) -> IPVSCommand {
        try IPVSCommand.parse(line.split(separator: " ").map(String.init))
    }

    func failure(_ line: String, readingStdin: Bool = false) -> IPVSCommandError? {
        do {
            _ = try IPVSCommand.parse(line.split(separator: " ").map(String.init), readingStdin: readingStdin)
            return nil
        } catch {
            return error
        }
    }

    // MARK: Accepted command lines

    @Test func services() throws {
        #expect(try parse("-A -t 10.0.0.100:80 -s rr") == .addService(ServiceSpec(web, scheduler: "rr")))
        #expect(try parse("-A -t 10.0.0.100:80") == .addService(ServiceSpec(web, scheduler: "wlc")))
        #expect(try parse("--add-service --tcp-service=10.0.0.100:80 --scheduler wrr")
            == .addService(ServiceSpec(web, scheduler: "wrr")))
        #expect(try parse("-At 10.0.0.100:80 -swrr") == .addService(ServiceSpec(web, scheduler: "wrr")))
        // -E without -s goes back to the default scheduler, as in ipvsadm.
        #expect(try parse("-E -t 10.0.0.100:80") == .editService(ServiceSpec(web, scheduler: "wlc"), keep: .notGiven))
        #expect(try parse("--delete-service -u [2001:db8::1]:53")
            == .deleteService(ServiceKey(.udp, IPAddress("2001:db8::1")!, 53)))
        #expect(try parse("-C") == .clear)
        #expect(try parse("--clear") == .clear)
        // An unknown scheduler is the engine's to refuse (after "Service already exists").
        #expect(try parse("-A -t 10.0.0.100:80 -s nope") == .addService(ServiceSpec(web, scheduler: "nope")))
    }

    @Test func persistentServices() throws {
        func spec(_ timeout: UInt64, _ mask: UInt32 = .max) -> ServiceSpec {
            ServiceSpec(web, scheduler: "rr", persistence: Persistence(timeout: timeout * 1000, netmask: mask))
        }
        #expect(try parse("-A -t 10.0.0.100:80 -s rr -p") == .addService(spec(360)))
        #expect(try parse("-A -t 10.0.0.100:80 -s rr -p 600") == .addService(spec(600)))
        #expect(try parse("-A -t 10.0.0.100:80 -s rr --persistent=60 -M 255.255.255.0")
            == .addService(spec(60, 0xffff_ff00)))
        #expect(try parse("-E -t 10.0.0.100:80 -s rr -p 60 --netmask 255.255.0.0") == .editService(spec(60, 0xffff_0000), keep: .notGiven))
        // -p followed by another option takes the default timeout.
        #expect(try parse("-A -t 10.0.0.100:80 -p -s rr") == .addService(spec(360)))
        #expect(try parse("-A -t 10.0.0.100:80 -s rr -p 2678400") == .addService(spec(2_678_400)))
        let v6 = ServiceKey(.udp, IPAddress("2001:db8::1")!, 53)
        #expect(try parse("-A -u [2001:db8::1]:53 -s rr -p 60 -M 64")
            == .addService(ServiceSpec(v6, scheduler: "rr", persistence: Persistence(timeout: 60_000, prefixLength: 64))))
        // -E without -p turns persistence off, as ipvsadm does.
        #expect(try parse("-E -t 10.0.0.100:80 -s rr") == .editService(ServiceSpec(web, scheduler: "rr"), keep: .notGiven))
        #expect(failure("-A -t 10.0.0.100:80 -p 0") == IPVSCommandError(.usage, "invalid timeout value `0' specified"))
        #expect(failure("-A -t 10.0.0.100:80 -p 2678401")
            == IPVSCommandError(.usage, "invalid timeout value `2678401' specified"))
        #expect(failure("-A -t 10.0.0.100:80 -p 60 -M 255.255.255.256")
            == IPVSCommandError(.usage, "illegal virtual server persistent mask specified"))
        #expect(failure("-A -u [2001:db8::1]:53 -p 60 -M 129") == IPVSCommandError(.usage, "illegal ipv6 netmask specified"))
    }


    @Test func servers() throws {
        #expect(try parse("-a -t 10.0.0.100:80 -r 192.168.10.2:8080 -m -w 3")
            == .addServer(DestinationSpec(address: rip, port: 8080, weight: 3, method: .masquerade), to: web))
        // Default -g; DR forces the service port; default weight 1.
        #expect(try parse("-a -t 10.0.0.100:80 -r 192.168.10.2:8080")
            == .addServer(DestinationSpec(address: rip, port: 80, weight: 1, method: .directRoute), to: web))
        // No port: the service's.
        #expect(try parse("--add-server -t 10.0.0.100:80 --real-server 192.168.10.2 --masquerading")
            == .addServer(DestinationSpec(address: rip, port: 80, method: .masquerade), to: web))
        #expect(try parse("-e -t 10.0.0.100:80 -r 192.168.10.2:8080 -m -w0 -x 100 -y 50")
            == .editServer(DestinationSpec(address: rip, port: 8080, weight: 0, upperThreshold: 100,
                                           lowerThreshold: 50, method: .masquerade), in: web))
        #expect(try parse("-a -u [2001:db8::1]:53 -r [fd00::2]:5353 --gatewaying --weight=65535")
            == .addServer(DestinationSpec(address: IPAddress("fd00::2")!, port: 53, weight: 65535, method: .directRoute),
                          to: ServiceKey(.udp, IPAddress("2001:db8::1")!, 53)))
        #expect(try parse("-d -t 10.0.0.100:80 -r 192.168.10.2:8080")
            == .deleteServer(address: rip, port: 8080, from: web))
        #expect(try parse("-d -t 10.0.0.100:80 -r 192.168.10.2") == .deleteServer(address: rip, port: 80, from: web))
        // strtol-style numbers, and inet_aton's short forms.
        #expect(try parse("-a -t 10.0.0.100:80 -r 192.168.10.2 -m -w +7")
            == .addServer(DestinationSpec(address: rip, port: 80, weight: 7, method: .masquerade), to: web))
        #expect(try parse("-D -t 10.100:80") == .deleteService(ServiceKey(.tcp, IPAddress("10.0.0.100")!, 80)))
    }

    @Test func listings() throws {
        #expect(try IPVSCommand.parse([]) == .list(.all, []))
        #expect(try parse("-L") == .list(.all, []))
        #expect(try parse("-Ln") == .list(.all, [.numeric]))
        #expect(try parse("-l -n --stats --exact") == .list(.all, [.numeric, .stats, .exact]))
        #expect(try parse("--list --numeric --rate --sort") == .list(.all, [.numeric, .rate]))
        #expect(try parse("-L -n --thresholds --nosort") == .list(.all, [.numeric, .thresholds, .noSort]))
        #expect(try parse("-L -t 10.0.0.100:80 --persistent-conn") == .list(.service(web), [.persistentConn]))
        #expect(try parse("-Lnc") == .list(.connections, [.numeric]))
        #expect(try parse("-L -n --connection") == .list(.connections, [.numeric]))
        #expect(try parse("-L --timeout") == .list(.timeout, []))
        #expect(try parse("-L --daemon") == .list(.daemon, []))
        #expect(try parse("-L --tun-info") == .list(.all, [.tunInfo]))
        #expect(try parse("-S -n") == .save([.numeric]))
        #expect(try parse("--save") == .save([]))
        #expect(try parse("-R") == .restore)
        #expect(try parse("-Z") == .zero(nil))
        #expect(try parse("-Z -t 10.0.0.100:80") == .zero(web))
        #expect(try parse("--set 900 120 300") == .setTimeouts(tcp: 900, tcpfin: 120, udp: 300))
        #expect(try parse("--set 0 0 5") == .setTimeouts(tcp: 0, tcpfin: 0, udp: 5))
        #expect(try parse("-h") == .help)
        #expect(try parse("--help -L") == .help)
        #expect(try parse("-v") == .version)
    }

    // MARK: ipvsadm's own messages

    @Test(arguments: [
        ("-A -t 10.0.0.1", "Zero port specified for non-persistent service"),
        ("-A -t 10.0.0.1:0 -s rr", "Zero port specified for non-persistent service"),
        ("-A -t 10.0.0.1:80 -m", "Illegal 'forwarding-method' option with the 'add-service' command"),
        ("-A -t 10.0.0.1:80 -w 2", "Illegal 'weight' option with the 'add-service' command"),
        ("-D -t 10.0.0.1:80 -s rr", "Illegal 'scheduler' option with the 'delete-service' command"),
        ("-C -n", "Illegal 'numeric' option with the 'flush' command"),
        ("-S -c", "Illegal 'connection' option with the 'save' command"),
        ("-L -r 10.0.0.2", "Illegal 'real-server' option with the 'list' command"),
        ("-A -s rr", "You need to supply the 'service-address' option for the 'add-service' command"),
        ("-a -t 10.0.0.1:80", "You need to supply the 'real-server' option for the 'add-server' command"),
        ("-d -t 10.0.0.1:80 -m -r 10.0.0.2",
         "Illegal 'forwarding-method' option with the 'delete-server' command"),
        ("-L -c -t 10.0.0.1:80",
         "The option 'service-address' conflicts with the 'connection' option in the 'list' command"),
        ("-L --timeout --daemon", "The option 'daemon' conflicts with the 'timeout' option in the 'list' command"),
        ("-L -c --stats", "options conflicts in the list command"),
        ("-L --timeout --persistent-conn", "options conflicts in the list command"),
        ("-A -t 1.2.3.4:99999", "illegal virtual server address[:port] specified"),
        ("-A -t 80", "illegal virtual server address[:port] specified"),
        ("-A -t www.example.com:80", "illegal virtual server address[:port] specified"),
        ("-A -t 10.0.0.1:http", "illegal virtual server address[:port] specified"),
        ("-A -t [2001:db8::1]", "illegal virtual server address[:port] specified"),
        ("-A -t 10.0.0.1:", "illegal virtual server address[:port] specified"),
        ("-a -t 10.0.0.1:80 -r 300.1.1.1", "illegal real server address[:port] specified"),
        ("-a -t 10.0.0.1:80 -r 10.0.0.2 -w 65536", "illegal weight specified"),
        ("-a -t 10.0.0.1:80 -r 10.0.0.2 -w 1x", "illegal weight specified"),
        ("-a -t 10.0.0.1:80 -r 10.0.0.2 -x -1", "illegal u_threshold specified"),
        ("-a -t 10.0.0.1:80 -r 10.0.0.2 -y 2147483648", "illegal l_threshold specified"),
        ("-A -t 10.0.0.1:80 -t 10.0.0.2:80", "multiple 'service-address' options specified"),
        ("-a -t 10.0.0.1:80 -r 10.0.0.2 -m -g", "multiple 'forwarding-method' options specified"),
        ("-L -n -n", "multiple 'numeric' options specified"),
        ("-L -A", "invalid option `-A'"),
        ("-Lh", "invalid option `-Lh'"),
        ("-L --bogus", "--bogus: unknown option"),
        ("-L -q", "-q: unknown option"),
        ("-L --stats=1", "--stats=1: option does not take an argument"),
        ("-A -t", "-t: missing argument"),
        ("--set 1 2", "--set option requires 3 timeout values"),
        ("--set 1 2 x", "invalid timeout value `x' specified"),
        ("--set 1 2 2678401", "invalid timeout value `2678401' specified"),
        ("--set 1 2 3 4", "unexpected argument 4"),
        ("-L extra", "unexpected argument extra"),
        ("-a -t 10.0.0.1:80 -r [fd00::1]:80 -m", "Different address family is allowed only for tunneling servers"),
        ("-a -t 10.0.0.1:80 -r 10.0.0.2 -m --tun-type gue", "Tunnel options conflict with forward method"),
        ("-a -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-type gue",
         "You need to supply the 'tun-port' option for the 'gue' tunnel type"),
        ("-a -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-nocsum", "Illegal 'tun-nocsum' option with the 'ipip' tunnel type"),
        ("-a -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-type gre --tun-csum --tun-nocsum",
         "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gre' tunnel type"),
        ("-a -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-type vxlan", "illegal tunnel type specified"),
        ("-A -t 10.0.0.1:53 -o", "One-Packet Scheduling is only for UDP virtual services"),
        ("-A -t 10.0.0.1:80 -b sh-port", "incompatible scheduler flag `sh-port'"),
        ("-A -t 10.0.0.1:80 -s sh -b sh-port,bogus", "invalid scheduler flag `bogus'"),
        ("-A -f 0", "invalid fwmark value `0' specified"),
        ("-A -f 7x", "invalid fwmark value `7x' specified"),
        ("-A -t 10.0.0.1:80 -p 0", "invalid timeout value `0' specified"),
        ("-A -t 10.0.0.1:80 -p 600 -M 255.255.255.256", "illegal virtual server persistent mask specified"),
        ("-A -t [2001:db8::1]:80 -p -M 129", "illegal ipv6 netmask specified"),
        ("-A -t 10.0.0.1:80 -6", "-6 used before -f\n"),
        ("--start-daemon sideways", "illegal start-daemon parameter specified"),
        ("--stop-daemon sideways", "illegal start_daemon specified"),
        ("--start-daemon master --syncid 256", "illegal syncid specified"),
        ("--start-daemon master --mcast-group 10.0.0.1", "invalid IPv4 mcast-group `10.0.0.1'"),
        ("--start-daemon master --mcast-group fd00::1", "invalid IPv6 mcast-group `fd00::1'"),
        ("--start-daemon master --mcast-port 0", "illegal mcast-port specified"),
        ("--start-daemon master --mcast-ttl 256", "illegal mcast-ttl specified"),
        ("--start-daemon master --sync-maxlen 65508", "illegal sync-maxlen specified"),
        ("--stop-daemon master --mcast-port 1", "Illegal 'mcast-port' option with the 'stop-daemon' command"),
    ])
    func ipvsadmMessages(_ line: String, _ message: String) {
        let e = failure(line)
        #expect(e == IPVSCommandError(.usage, message))
    }

    @Test(arguments: ["-n -L", "foo", "-t 10.0.0.1:80", "--bogus", "-", "--start-daemon"])
    func noCommandFirst(_ line: String) {
        #expect(failure(line) == IPVSCommandError(.tryHelp, "Try `lvsadm -h' or 'lvsadm --help' for more information."))
    }

    @Test func nestedRestoreIsRefused() {
        #expect(failure("-R", readingStdin: true)?.kind == .tryHelp)
        #expect(failure("-R") == nil)
    }

    @Test func programNameInTryHelp() {
        #expect(throws: IPVSCommandError(.tryHelp, "Try `ipvsadm -h' or 'ipvsadm --help' for more information.")) {
            try IPVSCommand.parse(["-n"], program: "ipvsadm")
        }
    }

    // MARK: VS/TUN

    @Test func tunnelServers() throws {
        let web = ServiceKey(.tcp, IPAddress("10.0.0.1")!, 80)
        let rip = IPAddress("10.0.0.2")!
        // DR and TUN reach the server on the service port, whatever -r says.
        #expect(try parse("-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -i -w 2")
            == .addServer(DestinationSpec(address: rip, port: 80, weight: 2, method: .tunnel,
                                          tunnel: TunnelSettings(type: .ipip)), to: web))
        #expect(try parse("-a -t 10.0.0.1:80 -r 10.0.0.2 --ipip --tun-type gue --tun-port 6080 --tun-csum")
            == .addServer(DestinationSpec(address: rip, port: 80, method: .tunnel,
                                          tunnel: TunnelSettings(type: .gue, port: 6080, udpChecksum: true)), to: web))
        #expect(try parse("-e -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-type gue --tun-port 7000 --tun-nocsum")
            == .editServer(DestinationSpec(address: rip, port: 80, method: .tunnel,
                                           tunnel: TunnelSettings(type: .gue, port: 7000)), in: web))
    }

    // MARK: Valid ipvsadm that the engine cannot do yet

    @Test(arguments: [
        // A persistent port-0 service passes ipvsadm's check, then meets ours.
        ("-A -t 10.0.0.1:21 -p", "Persistent FTP services (port 21) are not supported: SwiftLVS has no FTP helper"),
        ("-A -u 10.0.0.1:5060 --pe sip", "Persistence engines (--pe) are not supported yet (issue #5)"),
        ("-A --sctp-service 10.0.0.1:80", "SCTP services (--sctp-service) are not supported"),
        ("-a -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-type gre", "GRE tunnels (--tun-type gre) are not supported; use ipip or gue"),
        ("-e -t 10.0.0.1:80 -r 10.0.0.2 --ipip --tun-type gue --tun-port 6080 --tun-remcsum",
         "Remote checksum offload (--tun-remcsum) is not supported; use --tun-nocsum or --tun-csum"),
        ("--start-daemon master --mcast-interface eth1", "The connection synchronization daemon is not supported yet"),
        ("--stop-daemon backup", "The connection synchronization daemon is not supported yet"),
    ])
    func unsupported(_ line: String, _ message: String) {
        #expect(failure(line) == IPVSCommandError(.unsupported, message))
    }

    // MARK: C parsing helpers

    @Test func serviceAddresses() {
        let v4 = IPVSParser.parseService("10.0.0.1:8080")
        #expect(v4?.family == 4 && v4?.address == IPAddress("10.0.0.1") && v4?.port == 8080)
        let bare = IPVSParser.parseService("10.0.0.1")
        #expect(bare?.port == nil)
        let v6 = IPVSParser.parseService("[2001:db8::1]:443")
        #expect(v6?.family == 6 && v6?.address == IPAddress("2001:db8::1") && v6?.port == 443)
        let v6bare = IPVSParser.parseService("2001:db8::1")
        #expect(v6bare?.family == 6 && v6bare?.port == nil)
        #expect(IPVSParser.parseService("") == nil)
        #expect(IPVSParser.parseService("[2001:db8::1]x80") == nil)
        #expect(IPVSParser.parseService("10.0.0.1:-1") == nil)
    }

    @Test func inetAton() {
        #expect(IPVSParser.inetAton("10.0.0.1") == 0x0A00_0001)
        #expect(IPVSParser.inetAton("10.1") == 0x0A00_0001)
        #expect(IPVSParser.inetAton("10.1.2") == 0x0A01_0002)
        #expect(IPVSParser.inetAton("167772161") == 0x0A00_0001)
        #expect(IPVSParser.inetAton("0x0a.0.0.010") == 0x0A00_0008)
        #expect(IPVSParser.inetAton("10.0.0.256") == nil)
        #expect(IPVSParser.inetAton("10.0.0.08") == nil)
        #expect(IPVSParser.inetAton("10..0.1") == nil)
        #expect(IPVSParser.inetAton("1.2.3.4.5") == nil)
        #expect(IPVSParser.inetAton("256.1") == nil)
    }

    @Test func stringToNumber() {
        #expect(IPVSParser.number(" +12", 0, 100) == 12)
        #expect(IPVSParser.number("-0", 0, 100) == 0)
        #expect(IPVSParser.number("12 ", 0, 100) == nil)
        #expect(IPVSParser.number("", 0, 100) == nil)
        #expect(IPVSParser.number("101", 0, 100) == nil)
        #expect(IPVSParser.number("99999999999999999999999", 0, Int.max) == nil)
    }
}
