import LVSEngine
import LVSPacket

/// Runs lvsadm command lines (ipvsadm 1.31 syntax and output) against a `Director`, in-process:
/// lvsd receives an `AdminRequest` from the lvsadm client and answers with the `AdminResponse`
/// this returns. No I/O of its own.
///
/// Exit status: 0 on success, 1 on any error (ipvsadm itself exits 2 for option errors and 255
/// for kernel errors; lvsadm uses a single failure status).
public struct IPVSAdmin: Sendable {
    /// The name used in "Try `... -h'" and the version line.
    public var program = "lvsadm"

    public static let failureStatus: Int32 = 1

    public init() {}

    public func run(_ request: AdminRequest, director: Director, now: Timestamp, rates: RateEstimator?) -> AdminResponse {
        var out = ""
        var status: Int32 = 0
        var err = ""
        do throws(AdminFailure) {
            let command: IPVSCommand
            do {
                command = try IPVSCommand.parse(request.arguments, program: program)
            } catch {
                throw AdminFailure(error.message)
            }
            try execute(command, stdin: request.stdin, director: director, now: now, rates: rates, into: &out)
        } catch {
            status = IPVSAdmin.failureStatus
            err = error.message + "\n"
        }
        return IPVSAdmin.fitted(AdminResponse(status: status, stdout: out, stderr: err))
    }

    struct AdminFailure: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    /// Applies one parsed command; output is appended to `out`.
    func execute(_ command: IPVSCommand, stdin: [UInt8], director: Director, now: Timestamp, rates: RateEstimator?,
                 into out: inout String) throws(AdminFailure) {
        switch command {
        case .addService(let spec):
            try engine { () throws(DirectorError) in try director.addService(spec) }
        case .editService(var spec, let keep):
            if let current = director.service(spec.key) {
                if keep.matches { spec.matches = current.matches }
                if keep.udpTimeout { spec.udpTimeout = current.udpTimeout }
                if keep.virtualPortRange { spec.virtualPortRange = current.virtualPortRange }
                if keep.localAddresses { spec.localAddresses = current.localAddresses }
                if keep.clientAddress { spec.clientAddress = current.clientAddress }
            }
            let edited = spec
            try engine { () throws(DirectorError) in try director.editService(edited) }
        case .deleteService(let key):
            try engine { () throws(DirectorError) in try director.removeService(key) }
        case .clear:
            director.flush()
        case .addServer(let spec, let key):
            try checkDestination(spec, key, director)
            try engine { () throws(DirectorError) in try director.addDestination(spec, to: key) }
        case .editServer(let spec, let key):
            try checkDestination(spec, key, director)
            try engine { () throws(DirectorError) in try director.editDestination(spec, in: key) }
        case .deleteServer(let address, let port, let key):
            try engine { () throws(DirectorError) in
                try director.removeDestination(address: address, port: port, from: key)
            }
        case .zero(let key):
            try engine { () throws(DirectorError) in try director.zeroCounters(key) }
            rates?.zero(key, services: director.services())
        case .setTimeouts(let tcp, let tcpfin, let udp):
            director.setTimeouts(tcp: tcp, tcpfin: tcpfin, udp: udp)
        case .list(let target, let format):
            out += try engine { () throws(DirectorError) in
                try list(target, format, director: director, now: now, rates: rates)
            }
        case .save:
            out += IPVSListing.rules(director.services())
        case .restore:
            try restore(stdin, director: director, now: now, rates: rates, into: &out)
        case .help:
            out += usage
        case .version:
            out += "\(program) (SwiftLVS), ipvsadm v1.31 compatible (IPVS v\(IPVSListing.version))\n"
        }
    }

    /// Runs an engine call; its error becomes ipvsadm's message.
    func engine<T>(_ body: () throws(DirectorError) -> T) throws(AdminFailure) -> T {
        do {
            return try body()
        } catch {
            throw AdminFailure(error.description)
        }
    }

    /// The kernel's checks of ip_vs_add_dest/ip_vs_edit_dest that come before the server lookup:
    /// the service must exist, and the lower threshold may not exceed the upper one (ERANGE, which
    /// ipvsadm prints with strerror).
    func checkDestination(_ spec: DestinationSpec, _ key: ServiceKey, _ director: Director) throws(AdminFailure) {
        guard director.service(key) != nil else { throw AdminFailure(DirectorError.serviceNotDefined.description) }
        guard spec.lowerThreshold <= spec.upperThreshold else { throw AdminFailure("Numerical result out of range") }
    }

    func list(_ target: IPVSListTarget, _ format: IPVSFormat, director: Director, now: Timestamp,
              rates: RateEstimator?) throws(DirectorError) -> String {
        switch target {
        case .all:
            return IPVSListing.list(
                director.services(), size: director.configuration.connectionCapacity, format: format, rates: rates)
        case .service(let key):
            guard let s = director.service(key) else { throw .noSuchService }
            return IPVSListing.service(s, format: format, rates: rates)
        case .connections:
            return IPVSListing.connections(director.connections(now: now), format: format)
        case .timeout:
            return IPVSListing.timeouts(director.currentTimeouts)
        case .daemon:
            return ""  // no sync daemon runs: ipvsadm prints nothing then
        }
    }

    /// `-R`: each line of `stdin` in the `-S` format (or any other command) is run in turn; the
    /// first failing line stops the restore, and the error names its line. Words "ipvsadm" and
    /// "lvsadm" are skipped as ipvsadm skips "ipvsadm"; a word starting with '#' starts a comment.
    func restore(_ stdin: [UInt8], director: Director, now: Timestamp, rates: RateEstimator?,
                 into out: inout String) throws(AdminFailure) {
        var number = 0
        // Lines are split on the byte: in a Swift String "\r\n" is one Character, not a "\n".
        for bytes in stdin.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            let line = String(decoding: bytes, as: UTF8.self)
            var words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            if let comment = words.firstIndex(where: { $0.hasPrefix("#") }) { words.removeSubrange(comment...) }
            words.removeAll { $0 == "ipvsadm" || $0 == "lvsadm" }
            if words.isEmpty { continue }
            do throws(AdminFailure) {
                let command: IPVSCommand
                do {
                    command = try IPVSCommand.parse(words, program: program, readingStdin: true)
                } catch {
                    throw AdminFailure(error.message)
                }
                try execute(command, stdin: [], director: director, now: now, rates: rates, into: &out)
            } catch {
                throw AdminFailure("line \(number): \(error.message)")
            }
        }
    }

    /// Keeps a response within the wire's frame cap: a listing that would not fit (a connection
    /// table of millions) is cut at a line boundary, and stderr says so.
    static func fitted(_ response: AdminResponse) -> AdminResponse {
        let note = "output truncated: more than \(AdminWire.maxFrameSize >> 20) MiB\n"
        let budget = AdminWire.maxFrameSize - AdminResponse.overhead - response.stderr.utf8.count
        guard response.stdout.utf8.count > budget else { return response }
        let keep = budget - note.utf8.count
        var bytes = Array(response.stdout.utf8.prefix(max(0, keep)))
        while let last = bytes.last, last != UInt8(ascii: "\n") { bytes.removeLast() }
        var r = response
        r.stdout = String(decoding: bytes, as: UTF8.self)
        r.stderr += note
        return r
    }

    var usage: String {
        let p = program
        return """
            \(p) (SwiftLVS): ipvsadm 1.31 syntax against the lvsd director
            Usage:
              \(p) -A|E virtual-service [-s scheduler] [-b sched-flags] [-p [timeout]] [-M netmask] [-o]
                   [--match entries] [--udp-timeout seconds]
              \(p) -D virtual-service
              \(p) -C
              \(p) -R
              \(p) -S [-n]
              \(p) -a|e virtual-service -r server-address [-g|-m] [-w weight] [-x upper] [-y lower]
              \(p) -d virtual-service -r server-address
              \(p) -L|l [virtual-service] [options]
              \(p) -Z [virtual-service]
              \(p) --set tcp tcpfin udp
              \(p) -h

            Commands (long or short form):
              --add-service     -A   add a virtual service
              --edit-service    -E   change a virtual service's scheduler and flags
              --delete-service  -D   delete a virtual service
              --clear           -C   delete every virtual service
              --restore         -R   read commands (the -S format) from stdin
              --save            -S   print the table as commands
              --add-server      -a   add a real server to a service
              --edit-server     -e   change a real server
              --delete-server   -d   delete a real server
              --list            -L|-l  list the table
              --zero            -Z   zero the counters of one or all services
              --set tcp tcpfin udp   set the connection timeouts (seconds, 0 = unchanged)
              --help            -h   this text

            virtual-service:
              --tcp-service|-t  address:port   ([v6address]:port for IPv6)
              --udp-service|-u  address:port
              --fwmark-service|-f mark [-6]    a service group (the role of IPVS firewall-mark services):
                                               its entries come from --match, not from iptables marks

            Options:
              --scheduler    -s scheduler   one of \(SchedulerRegistry.names.joined(separator: "|")) (default \(SchedulerRegistry.defaultName))
              --sched-flags  -b flags       comma list: sh-fallback,sh-port (sh), mh-fallback,mh-port (mh),
                                            flag-1,flag-2,flag-3 (any)
              --persistent   -p [timeout]   persistent service (default 360 s, 1 s .. 31 days)
              --netmask      -M netmask     persistent granularity mask (IPv4 dotted, IPv6 prefix length)
              --ops          -o             one-packet scheduling (UDP services and groups)
              --match entries               a group's entries (SwiftLVS): comma list of
                                            tcp|udp:address:port[-port], port 0 = all ports, e.g.
                                            tcp:10.0.0.1:80,tcp:10.0.0.1:8000-8010; "none" clears; -E
                                            without --match keeps the entries
              --udp-timeout  seconds        this UDP service's own idle timeout (SwiftLVS); -E without
                                            it keeps the value
              --real-server  -r address[:port]
              --gatewaying   -g   direct routing (default)
              --masquerading -m   NAT
              --weight       -w weight      0..65535 (default 1)
              --u-threshold  -x n           upper connection threshold
              --l-threshold  -y n           lower connection threshold
              --numeric      -n   numeric output (always on)
              --connection   -c   list connections
              --timeout           list the timeouts
              --stats             list counters
              --rate              list rates
              --exact             exact numbers
              --thresholds        list thresholds
              --persistent-conn   list persistent connections
              --tun-info          list tunnel information
              --nosort            do not sort services and servers

            Not supported: persistent FTP services (no FTP helper), persistence engines (--pe), SCTP,
            the sync daemon, kernel firewall marks (groups match on addresses and ports instead).

            """
    }
}
