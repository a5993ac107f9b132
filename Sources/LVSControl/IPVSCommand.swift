import LVSEngine
import LVSPacket

/// Output options of `-L`/`-S` (ipvsadm's FMT_* flags).
public struct IPVSFormat: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let numeric = IPVSFormat(rawValue: 1 << 0)
    public static let stats = IPVSFormat(rawValue: 1 << 1)
    public static let rate = IPVSFormat(rawValue: 1 << 2)
    public static let thresholds = IPVSFormat(rawValue: 1 << 3)
    public static let persistentConn = IPVSFormat(rawValue: 1 << 4)
    public static let noSort = IPVSFormat(rawValue: 1 << 5)
    public static let exact = IPVSFormat(rawValue: 1 << 6)
    public static let tunInfo = IPVSFormat(rawValue: 1 << 7)
}

/// What `-L` lists.
public enum IPVSListTarget: Equatable, Sendable {
    /// Every service (`-L`).
    case all
    /// One service (`-L -t|-u service`).
    case service(ServiceKey)
    /// The connection table (`-L -c`).
    case connections
    /// `-L --timeout`.
    case timeout
    /// `-L --daemon`: the sync daemons (none exist yet, so nothing is printed).
    case daemon
}

/// One ipvsadm 1.31 command line, parsed and validated.
public enum IPVSCommand: Equatable, Sendable {
    case addService(ServiceSpec)
    /// `keep` names the SwiftLVS extension fields the command did not give: they keep their values.
    case editService(ServiceSpec, keep: ServiceExtensions = ServiceExtensions())
    case deleteService(ServiceKey)
    case clear
    case addServer(DestinationSpec, to: ServiceKey)
    case editServer(DestinationSpec, in: ServiceKey)
    case deleteServer(address: IPAddress, port: UInt16, from: ServiceKey)
    case list(IPVSListTarget, IPVSFormat)
    case zero(ServiceKey?)
    case save(IPVSFormat)
    case restore
    /// `--set tcp tcpfin udp`, in seconds (0 leaves a value unchanged).
    case setTimeouts(tcp: UInt64, tcpfin: UInt64, udp: UInt64)
    case help
    case version
}

/// A command line ipvsadm would refuse (or one that asks for something not built yet).
public struct IPVSCommandError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// ipvsadm's `fail()` or popt's messages: the text is ipvsadm's, word for word.
        case usage
        /// No command: ipvsadm prints only "Try `prog -h' or 'prog --help' ...".
        case tryHelp
        /// Valid ipvsadm, but the engine does not support it yet.
        case unsupported
    }

    public var kind: Kind
    /// What goes to stderr (without the final newline).
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    static func usage(_ m: String) -> IPVSCommandError { IPVSCommandError(.usage, m) }
    static func unsupported(_ m: String) -> IPVSCommandError { IPVSCommandError(.unsupported, m) }
    static func tryHelp(_ program: String) -> IPVSCommandError {
        IPVSCommandError(.tryHelp, "Try `\(program) -h' or '\(program) --help' for more information.")
    }
}

extension IPVSCommand {
    /// Parses `arguments` (argv[1...]) as ipvsadm 1.31 does (popt option syntax, the
    /// `commands_v_options` table, then the per-command checks of `process_options`), with its
    /// error messages. `readingStdin` is set for lines of `-R` (a nested `-R` is refused).
    public static func parse(_ arguments: [String], program: String = "lvsadm", readingStdin: Bool = false)
        throws(IPVSCommandError) -> IPVSCommand
    {
        if arguments.isEmpty { return .list(.all, []) }
        var p = IPVSParser(program: program)
        return try p.run(arguments, readingStdin: readingStdin)
    }
}

/// Which SwiftLVS extensions of -A/-E were left out of an -E (and so keep their current values).
public struct ServiceExtensions: Equatable, Sendable {
    public var matches: Bool
    public var udpTimeout: Bool
    public var virtualPortRange: Bool
    public var localAddresses: Bool
    public var clientAddress: Bool
    public init(matches: Bool = false, udpTimeout: Bool = false, virtualPortRange: Bool = false,
                localAddresses: Bool = false, clientAddress: Bool = false) {
        self.matches = matches
        self.udpTimeout = udpTimeout
        self.virtualPortRange = virtualPortRange
        self.localAddresses = localAddresses
        self.clientAddress = clientAddress
    }

    /// An -E that gave none of the extensions.
    public static let notGiven = ServiceExtensions(
        matches: true, udpTimeout: true, virtualPortRange: true, localAddresses: true, clientAddress: true)
}

// MARK: - Tables from ipvsadm.c

/// ipvsadm's OPTC_* columns, in table order.
enum IPVSOption: Int, CaseIterable {
    case numeric, connection, service, scheduler, persistent, netmask, server, forward, weight, uThreshold,
        lThreshold, mcast, timeout, daemon, stats, rate, thresholds, persistentConn, noSort, syncID, exact,
        onePacket, persistenceEngine, schedFlags, mcastGroup, mcastPort, mcastTTL, syncMaxlen, tunInfo, tunType,
        tunPort, tunNoCsum, tunCsum, tunRemCsum,
        // SwiftLVS extensions, after ipvsadm's columns.
        match, udpTimeout,
        /// SwiftLVS: `--vdport-range LOW-HIGH`, the Double-NAT/FULLNAT port range of a service.
        vdportRange,
        /// SwiftLVS: `--laddr A[,B...]`, a service's FULLNAT local addresses.
        laddr,
        /// SwiftLVS: `--client-address none|proxy_v2`, how FULLNAT servers learn the client.
        clientAddress

    /// ipvsadm's `optnames`.
    var name: String {
        [
            "numeric", "connection", "service-address", "scheduler", "persistent", "netmask", "real-server",
            "forwarding-method", "weight", "u-threshold", "l-threshold", "mcast-interface", "timeout", "daemon",
            "stats", "rate", "thresholds", "persistent-conn", "nosort", "syncid", "exact", "ops", "pe",
            "sched-flags", "mcast-group", "mcast-port", "mcast-ttl", "sync-maxlen", "tun-info", "tun-type",
            "tun-port", "tun-nocsum", "tun-csum", "tun-remcsum", "match", "udp-timeout", "vdport-range", "laddr",
            "client-address",
        ][rawValue]
    }

    var bit: UInt64 { 1 << UInt64(rawValue) }
}

/// ipvsadm's CMD_* commands, in table order.
enum IPVSCommandKind: Int {
    case add, edit, delete, flush, list, addDest, deleteDest, editDest, timeout, startDaemon, stopDaemon, restore,
        save, zero

    /// ipvsadm's `cmdnames`.
    var name: String {
        [
            "add-service", "edit-service", "delete-service", "flush", "list", "add-server", "delete-server",
            "edit-server", "set", "start-daemon", "stop-daemon", "restore", "save", "zero",
        ][rawValue]
    }

    /// A row of `commands_v_options`: '+' compulsory, 'x' illegal, '1' exclusive, ' ' optional.
    var legality: [UInt8] {
        let rows = [
            /* add    */ "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx     ",
            /* edit   */ "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx     ",
            /* del    */ "xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            /* flush  */ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            /* list   */ " 11xxxxxxxxx11       xxxxxxx xxxxxxxxxx",
            /* addsrv */ "xx+xxx+    xxxxxxxxxxxxxxxxxx     xxxxx",
            /* delsrv */ "xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            /* editsrv*/ "xx+xxx+    xxxxxxxxxxxxxxxxxx     xxxxx",
            /* set    */ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            /* startd */ "xxxxxxxxxxx xxxxxxx xxxx    xxxxxxxxxxx",
            /* stopd  */ "xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxxxxxxx",
            /* restore*/ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            /* save   */ " xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            /* zero   */ "xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        ]
        return Array(rows[rawValue].utf8)
    }
}

/// How a parsed option is handled (popt's `val`).
enum IPVSTag: Equatable {
    case command(IPVSCommandKind)
    case help, version, startDaemon, stopDaemon
    case tcp, udp, sctp, fwmark, scheduler, persistent, netmask, realServer, masquerading, ipip, gatewaying
    case weight, uThreshold, lThreshold, numeric, connection, mcastInterface, syncID, timeout, daemon, stats, rate
    case thresholds, persistentConn, noSort, sort, exact, ipv6, ops, persistenceEngine, schedFlags
    case mcastGroup, mcastPort, mcastTTL, syncMaxlen, tunInfo, tunType, tunPort, tunNoCsum, tunCsum, tunRemCsum
    case match, udpTimeout
    /// SwiftLVS additions: `--double-nat`, `--fullnat` (forwarding methods), `--vdport-range`, `--laddr`.
    case doubleNAT, vdportRange, fullNAT, laddr, clientAddress
}

struct IPVSOptionSpec {
    enum Argument { case none, required, optional }
    let long: String?
    let short: Character?
    let tag: IPVSTag
    let argument: Argument

    init(_ long: String?, _ short: Character?, _ tag: IPVSTag, _ argument: Argument = .none) {
        self.long = long
        self.short = short
        self.tag = tag
        self.argument = argument
    }

    /// ipvsadm's popt option table.
    static let all: [IPVSOptionSpec] = [
        .init("add-service", "A", .command(.add)),
        .init("edit-service", "E", .command(.edit)),
        .init("delete-service", "D", .command(.delete)),
        .init("clear", "C", .command(.flush)),
        .init("list", "L", .command(.list)),
        .init(nil, "l", .command(.list)),
        .init("zero", "Z", .command(.zero)),
        .init("add-server", "a", .command(.addDest)),
        .init("edit-server", "e", .command(.editDest)),
        .init("delete-server", "d", .command(.deleteDest)),
        .init("set", nil, .command(.timeout)),
        .init("help", "h", .help),
        .init("version", "v", .version),
        .init("restore", "R", .command(.restore)),
        .init("save", "S", .command(.save)),
        .init("start-daemon", nil, .startDaemon, .required),
        .init("stop-daemon", nil, .stopDaemon, .required),
        .init("tcp-service", "t", .tcp, .required),
        .init("udp-service", "u", .udp, .required),
        .init("sctp-service", nil, .sctp, .required),
        .init("fwmark-service", "f", .fwmark, .required),
        .init("scheduler", "s", .scheduler, .required),
        .init("persistent", "p", .persistent, .optional),
        .init("netmask", "M", .netmask, .required),
        .init("real-server", "r", .realServer, .required),
        .init("masquerading", "m", .masquerading),
        .init("ipip", "i", .ipip),
        .init("gatewaying", "g", .gatewaying),
        .init("weight", "w", .weight, .required),
        .init("u-threshold", "x", .uThreshold, .required),
        .init("l-threshold", "y", .lThreshold, .required),
        .init("numeric", "n", .numeric),
        .init("connection", "c", .connection),
        .init("mcast-interface", nil, .mcastInterface, .required),
        .init("syncid", nil, .syncID, .required),
        .init("timeout", nil, .timeout),
        .init("daemon", nil, .daemon),
        .init("stats", nil, .stats),
        .init("rate", nil, .rate),
        .init("thresholds", nil, .thresholds),
        .init("persistent-conn", nil, .persistentConn),
        .init("nosort", nil, .noSort),
        .init("sort", nil, .sort),
        .init("exact", "X", .exact),
        .init("ipv6", "6", .ipv6),
        .init("ops", "o", .ops),
        .init("pe", nil, .persistenceEngine, .required),
        .init("sched-flags", "b", .schedFlags, .required),
        .init("mcast-group", nil, .mcastGroup, .required),
        .init("mcast-port", nil, .mcastPort, .required),
        .init("mcast-ttl", nil, .mcastTTL, .required),
        .init("sync-maxlen", nil, .syncMaxlen, .required),
        .init("tun-info", nil, .tunInfo),
        .init("tun-type", nil, .tunType, .required),
        .init("tun-port", nil, .tunPort, .required),
        .init("tun-nocsum", nil, .tunNoCsum),
        .init("tun-csum", nil, .tunCsum),
        .init("tun-remcsum", nil, .tunRemCsum),
        .init("match", nil, .match, .required),
        .init("udp-timeout", nil, .udpTimeout, .required),
        .init("double-nat", nil, .doubleNAT),
        .init("vdport-range", nil, .vdportRange, .required),
        .init("fullnat", nil, .fullNAT),
        .init("laddr", nil, .laddr, .required),
        .init("client-address", nil, .clientAddress, .required),
    ]

    static func long(_ name: Substring) -> IPVSOptionSpec? { all.first { $0.long.map { $0[...] == name } ?? false } }
    static func short(_ c: Character) -> IPVSOptionSpec? { all.first { $0.short == c } }
}

// MARK: - popt-style option reader

/// Reads options the way popt does for ipvsadm: `--long`, `--long=value`, clustered short
/// options (`-Ln`), `-wVALUE` or `-w VALUE`, an optional argument taken only when the next word
/// does not start with '-', `--` ending the options. Other words are collected as arguments.
struct IPVSOptionReader {
    enum Event {
        case option(IPVSOptionSpec, value: String?, word: String)
        /// popt's "<word>: unknown option" / "missing argument" / ...
        case bad(word: String, reason: String)
    }

    let words: [String]
    var index = 0
    /// The rest of a short-option cluster being read, and the word it came from.
    var cluster: Substring = ""
    var clusterWord = ""
    var onlyArguments = false
    var arguments: [String] = []

    init(_ words: [String]) { self.words = words }

    mutating func next() -> Event? {
        if !cluster.isEmpty { return shortOption() }
        while index < words.count {
            let word = words[index]
            index += 1
            if onlyArguments || word == "-" || !word.hasPrefix("-") {
                arguments.append(word)
                continue
            }
            if word == "--" {
                onlyArguments = true
                continue
            }
            if word.hasPrefix("--") {
                let body = word.dropFirst(2)
                let name = body.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
                let inline: String? = body.contains("=") ? String(body[body.index(after: body.firstIndex(of: "=")!)...]) : nil
                guard let spec = IPVSOptionSpec.long(name) else { return .bad(word: word, reason: "unknown option") }
                switch spec.argument {
                case .none:
                    if inline != nil { return .bad(word: word, reason: "option does not take an argument") }
                    return .option(spec, value: nil, word: word)
                case .required:
                    if let inline { return .option(spec, value: inline, word: word) }
                    guard index < words.count else { return .bad(word: word, reason: "missing argument") }
                    index += 1
                    return .option(spec, value: words[index - 1], word: word)
                case .optional:
                    if let inline { return .option(spec, value: inline, word: word) }
                    return .option(spec, value: optionalValue(), word: word)
                }
            }
            cluster = word.dropFirst()
            clusterWord = word
            return shortOption()
        }
        return nil
    }

    private mutating func optionalValue() -> String? {
        guard index < words.count, !words[index].hasPrefix("-") else { return nil }
        index += 1
        return words[index - 1]
    }

    private mutating func shortOption() -> Event {
        let c = cluster.removeFirst()
        let word = clusterWord
        guard let spec = IPVSOptionSpec.short(c) else {
            cluster = ""
            return .bad(word: word, reason: "unknown option")
        }
        switch spec.argument {
        case .none:
            return .option(spec, value: nil, word: word)
        case .required:
            if !cluster.isEmpty {
                defer { cluster = "" }
                return .option(spec, value: String(cluster), word: word)
            }
            guard index < words.count else { return .bad(word: word, reason: "missing argument") }
            index += 1
            return .option(spec, value: words[index - 1], word: word)
        case .optional:
            if !cluster.isEmpty {
                defer { cluster = "" }
                return .option(spec, value: String(cluster), word: word)
            }
            return .option(spec, value: optionalValue(), word: word)
        }
    }
}

// MARK: - The parser (ipvsadm's parse_options + process_options)

struct IPVSParser {
    enum ServiceKind { case none, tcp, udp, sctp, fwmark }
    enum Forward {
        case masquerade, directRoute, tunnel, doubleNAT, fullNAT
        var method: ForwardingMethod {
            switch self {
            case .masquerade: .masquerade
            case .directRoute: .directRoute
            case .tunnel: .tunnel
            case .doubleNAT: .doubleNAT
            case .fullNAT: .fullNAT
            }
        }
    }

    let program: String
    var command: IPVSCommandKind?
    var options: UInt64 = 0
    var format: IPVSFormat = []

    // ce.svc
    var serviceKind = ServiceKind.none
    /// 0 (not given), 4 or 6.
    var serviceFamily = 0
    var serviceAddress = IPAddress.zero
    var servicePort: UInt16 = 0
    var fwmark: UInt32 = 0
    var scheduler = ""
    var persistent = false
    /// -p value in seconds (ipvsadm's default 360 when -p has none).
    var persistTimeout = 360
    /// -M: IPv4 netmask (host order) or IPv6 prefix length.
    var persistNetmask: UInt32 = .max
    var persistPrefix = 128
    var schedFlags = ""
    /// The `-b` flags as bits (`parse_sched_flags`).
    var schedulerFlags: UInt32 = 0
    var onePacket = false
    /// --match: a group's entries (SwiftLVS extension).
    var matches: [ServiceMatch] = []
    /// --udp-timeout in seconds (SwiftLVS extension).
    var udpTimeoutSeconds: Int?

    // ce.dest
    var destFamily = 0
    var destAddress = IPAddress.zero
    var destPort: UInt16 = 0
    var forward = Forward.directRoute
    var weight: Int32 = 1
    var upperThreshold: UInt32 = 0
    var lowerThreshold: UInt32 = 0
    var tunnelType = 0
    var tunnelPort: UInt16 = 0
    var virtualPortRange = defaultVirtualPortRange
    var localAddresses: [IPAddress] = []
    var clientAddress = ClientAddressDelivery.none

    var timeouts: (UInt64, UInt64, UInt64) = (0, 0, 0)

    /// ipvsadm's MAX_TIMEOUT (31 days).
    static let maxTimeout = 86400 * 31

    init(program: String) { self.program = program }

    mutating func run(_ words: [String], readingStdin: Bool) throws(IPVSCommandError) -> IPVSCommand {
        var reader = IPVSOptionReader(words)
        // The first option must be the command.
        guard case .option(let first, let firstValue, _)? = reader.next() else { throw .tryHelp(program) }
        switch first.tag {
        case .command(let kind): command = kind
        case .help: return .help
        case .version: return .version
        case .startDaemon, .stopDaemon:
            command = first.tag == .startDaemon ? .startDaemon : .stopDaemon
            guard firstValue == "master" || firstValue == "backup" else {
                throw .usage(first.tag == .startDaemon
                    ? "illegal start-daemon parameter specified" : "illegal start_daemon specified")
            }
        default: throw .tryHelp(program)
        }

        while let event = reader.next() {
            switch event {
            case .bad(let word, let reason): throw .usage("\(word): \(reason)")
            case .option(let spec, let value, let word): try apply(spec.tag, value ?? "", present: value != nil, word: word)
            }
        }

        var rest = reader.arguments[...]
        if command == .timeout {
            guard rest.count >= 3 else { throw .usage("--set option requires 3 timeout values") }
            timeouts = (
                UInt64(try timeout(rest.removeFirst(), min: 0)), UInt64(try timeout(rest.removeFirst(), min: 0)),
                UInt64(try timeout(rest.removeFirst(), min: 0))
            )
        }
        if let extra = rest.first { throw .usage("unexpected argument \(extra)") }
        if has(.schedFlags) { schedulerFlags = try parseSchedulerFlags() }

        try checkLegality()
        return try finish(readingStdin: readingStdin)
    }

    mutating func set(_ o: IPVSOption) throws(IPVSCommandError) {
        guard options & o.bit == 0 else { throw .usage("multiple '\(o.name)' options specified") }
        options |= o.bit
    }

    func has(_ o: IPVSOption) -> Bool { options & o.bit != 0 }

    mutating func apply(_ tag: IPVSTag, _ value: String, present: Bool, word: String) throws(IPVSCommandError) {
        switch tag {
        case .tcp, .udp, .sctp:
            try set(.service)
            serviceKind = tag == .tcp ? .tcp : tag == .udp ? .udp : .sctp
            guard let s = IPVSParser.parseService(value) else {
                throw .usage("illegal virtual server address[:port] specified")
            }
            serviceFamily = s.family
            serviceAddress = s.address
            if let port = s.port { servicePort = port }
        case .fwmark:
            try set(.service)
            serviceKind = .fwmark
            serviceFamily = 4
            guard let mark = IPVSParser.strtol(value), mark > 0, mark <= Int(UInt32.max) else {
                throw .usage("invalid fwmark value `\(value)' specified")
            }
            fwmark = UInt32(mark)
        case .scheduler:
            try set(.scheduler)
            scheduler = value
        case .persistent:
            try set(.persistent)
            persistent = true
            if present { persistTimeout = try timeout(value, min: 1) }
        case .netmask:
            try set(.netmask)
            if serviceFamily != 6 {
                guard let mask = IPVSParser.inetAton(value) else {
                    throw .usage("illegal virtual server persistent mask specified")
                }
                persistNetmask = mask
            } else {
                let bits = IPVSParser.atoi(value)
                guard (1...128).contains(bits) else { throw .usage("illegal ipv6 netmask specified") }
                persistPrefix = bits
            }
        case .realServer:
            try set(.server)
            guard let s = IPVSParser.parseService(value) else {
                throw .usage("illegal real server address[:port] specified")
            }
            destFamily = s.family
            destAddress = s.address
            // Without a port the server takes the service's port (as given so far).
            destPort = s.port ?? servicePort
        case .ipip:
            try set(.forward)
            forward = .tunnel
        case .gatewaying:
            try set(.forward)
            forward = .directRoute
        case .masquerading:
            try set(.forward)
            forward = .masquerade
        case .doubleNAT:
            try set(.forward)
            forward = .doubleNAT
        case .fullNAT:
            try set(.forward)
            forward = .fullNAT
        case .laddr:
            try set(.laddr)
            var lips: [IPAddress] = []
            for part in value.split(separator: ",", omittingEmptySubsequences: false) {
                guard let a = IPAddress(String(part)) else {
                    throw .usage("illegal local address specified: `\(part)' (want --laddr ADDRESS[,ADDRESS...])")
                }
                lips.append(a)
            }
            localAddresses = lips
        case .clientAddress:
            try set(.clientAddress)
            guard let d = ClientAddressDelivery(rawValue: value) else {
                throw .usage("illegal client-address method `\(value)' (want none, proxy_v2 or toa)")
            }
            clientAddress = d
        case .vdportRange:
            try set(.vdportRange)
            guard let range = parseVirtualPortRange(Substring(value)) else {
                throw .usage("illegal vdport range specified (want LOW-HIGH within 1-65535, LOW <= HIGH)")
            }
            virtualPortRange = range
        case .weight:
            try set(.weight)
            guard let w = IPVSParser.number(value, 0, 65535) else { throw .usage("illegal weight specified") }
            weight = Int32(w)
        case .uThreshold:
            try set(.uThreshold)
            guard let t = IPVSParser.number(value, 0, Int(Int32.max)) else {
                throw .usage("illegal u_threshold specified")
            }
            upperThreshold = UInt32(t)
        case .lThreshold:
            try set(.lThreshold)
            guard let t = IPVSParser.number(value, 0, Int(Int32.max)) else {
                throw .usage("illegal l_threshold specified")
            }
            lowerThreshold = UInt32(t)
        case .connection: try set(.connection)
        case .numeric:
            try set(.numeric)
            format.insert(.numeric)
        case .mcastInterface: try set(.mcast)
        case .syncID:
            try set(.syncID)
            guard IPVSParser.number(value, 0, 255) != nil else { throw .usage("illegal syncid specified") }
        case .timeout: try set(.timeout)
        case .daemon: try set(.daemon)
        case .stats:
            try set(.stats)
            format.insert(.stats)
        case .rate:
            try set(.rate)
            format.insert(.rate)
        case .thresholds:
            try set(.thresholds)
            format.insert(.thresholds)
        case .persistentConn:
            try set(.persistentConn)
            format.insert(.persistentConn)
        case .noSort:
            try set(.noSort)
            format.insert(.noSort)
        case .sort:
            break  // the default; kept for compatibility
        case .exact:
            try set(.exact)
            format.insert(.exact)
        case .ipv6:
            // ipvsadm's message carries its own newline before fail() adds one.
            guard fwmark != 0 else { throw .usage("-6 used before -f\n") }
            serviceFamily = 6
        case .ops:
            try set(.onePacket)
            onePacket = true
        case .match:
            try set(.match)
            if value != "none" {
                for item in value.split(separator: ",", omittingEmptySubsequences: false) {
                    guard let m = ServiceMatch(item) else {
                        throw .usage("illegal --match entry `\(item)' (expected tcp|udp:ADDRESS:PORT[-PORT], port 0 = all ports)")
                    }
                    matches.append(m)
                }
            }
        case .udpTimeout:
            try set(.udpTimeout)
            guard let t = IPVSParser.number(Substring(value), 1, IPVSParser.maxTimeout) else {
                throw .usage("illegal --udp-timeout value `\(value)' (1 to \(IPVSParser.maxTimeout) seconds)")
            }
            udpTimeoutSeconds = t
        case .persistenceEngine: try set(.persistenceEngine)
        case .schedFlags:
            try set(.schedFlags)
            schedFlags = value
        case .mcastGroup:
            try set(.mcastGroup)
            if value.contains(":") {
                guard let a = IPAddress(value), !a.isIPv4, a.bytes[0] == 0xff else {
                    throw .usage("invalid IPv6 mcast-group `\(value)'")
                }
            } else {
                guard let a = IPVSParser.inetPton4(value), a >> 28 == 0xe else {
                    throw .usage("invalid IPv4 mcast-group `\(value)'")
                }
            }
        case .mcastPort:
            try set(.mcastPort)
            guard IPVSParser.number(value, 1, 65535) != nil else { throw .usage("illegal mcast-port specified") }
        case .mcastTTL:
            try set(.mcastTTL)
            guard IPVSParser.number(value, 1, 255) != nil else { throw .usage("illegal mcast-ttl specified") }
        case .syncMaxlen:
            try set(.syncMaxlen)
            guard IPVSParser.number(value, 1, 65535 - 20 - 8) != nil else {
                throw .usage("illegal sync-maxlen specified")
            }
        case .tunInfo:
            try set(.tunInfo)
            format.insert(.tunInfo)
        case .tunType:
            try set(.tunType)
            guard let t = ["ipip", "gue", "gre"].firstIndex(of: value) else {
                throw .usage("illegal tunnel type specified")
            }
            tunnelType = t
        case .tunPort:
            try set(.tunPort)
            guard let port = IPVSParser.number(value, 1, 65535) else { throw .usage("illegal tunnel port specified") }
            tunnelPort = UInt16(port)
        case .tunNoCsum: try set(.tunNoCsum)
        case .tunCsum: try set(.tunCsum)
        case .tunRemCsum: try set(.tunRemCsum)
        case .command, .help, .version, .startDaemon, .stopDaemon:
            // Only the first option may be a command.
            throw .usage("invalid option `\(word)'")
        }
    }

    /// `parse_timeout`.
    func timeout(_ text: String, min: Int) throws(IPVSCommandError) -> Int {
        guard let t = IPVSParser.number(text, min, IPVSParser.maxTimeout) else {
            throw .usage("invalid timeout value `\(text)' specified")
        }
        return t
    }

    /// `parse_sched_flags`: a comma-separated list of flag names for the given scheduler (the
    /// default one when -s is absent).
    func parseSchedulerFlags() throws(IPVSCommandError) -> UInt32 {
        let sched = scheduler.isEmpty ? SchedulerRegistry.defaultName : scheduler
        var flags: UInt32 = 0
        // strtok(optarg, ","): empty items are skipped; a list with no item at all is refused.
        let items = schedFlags.split(separator: ",")
        if items.isEmpty { throw .usage("invalid scheduler flag `\(schedFlags)'") }
        for flag in items {
            switch SchedulerFlagNames.flag(flag, scheduler: sched) {
            case .success(let bit): flags |= bit
            case .failure(.incompatible): throw .usage("incompatible scheduler flag `\(flag)'")
            case .failure(.invalid): throw .usage("invalid scheduler flag `\(flag)'")
            }
        }
        return flags
    }

    /// `generic_opt_check`.
    func checkLegality() throws(IPVSCommandError) {
        guard let command else { return }
        let row = command.legality
        var exclusive: IPVSOption?
        for o in IPVSOption.allCases {
            let rule = row[o.rawValue]
            if !has(o) {
                if rule == UInt8(ascii: "+") {
                    throw .usage("You need to supply the '\(o.name)' option for the '\(command.name)' command")
                }
                continue
            }
            if rule == UInt8(ascii: "x") {
                throw .usage("Illegal '\(o.name)' option with the '\(command.name)' command")
            }
            if rule == UInt8(ascii: "1") {
                if let first = exclusive {
                    throw .usage(
                        "The option '\(o.name)' conflicts with the '\(first.name)' option in the '\(command.name)' command")
                }
                exclusive = o
            }
        }
    }

    /// `tunnel_opt_check` (ipip: no options; gue: port required, one checksum option; gre: one of
    /// nocsum/csum).
    func checkTunnelOptions() throws(IPVSCommandError) {
        let names = ["ipip", "gue", "gre"]
        let rows = ["xxxx", "+111", "x11x"].map { Array($0.utf8) }
        let opts: [IPVSOption] = [.tunPort, .tunNoCsum, .tunCsum, .tunRemCsum]
        var exclusive: IPVSOption?
        for (j, o) in opts.enumerated() {
            let rule = rows[tunnelType][j]
            if !has(o) {
                if rule == UInt8(ascii: "+") {
                    throw .usage("You need to supply the '\(o.name)' option for the '\(names[tunnelType])' tunnel type")
                }
                continue
            }
            if rule == UInt8(ascii: "x") {
                throw .usage("Illegal '\(o.name)' option with the '\(names[tunnelType])' tunnel type")
            }
            if rule == UInt8(ascii: "1") {
                if let first = exclusive {
                    throw .usage("The option '\(o.name)' conflicts with the '\(first.name)' option in the '\(names[tunnelType])' tunnel type")
                }
                exclusive = o
            }
        }
    }

    /// The rest of `process_options`, then the features the engine does not have yet.
    mutating func finish(readingStdin: Bool) throws(IPVSCommandError) -> IPVSCommand {
        guard let command else { throw .tryHelp(program) }
        switch command {
        case .add, .edit:
            if serviceKind != .fwmark && servicePort == 0 && !persistent {
                throw .usage("Zero port specified for non-persistent service")
            }
            if onePacket && serviceKind != .fwmark && serviceKind != .udp {
                throw .usage("One-Packet Scheduling is only for UDP virtual services")
            }
            if has(.match) && serviceKind != .fwmark {
                throw .usage("--match gives the entries of a service group: use it with -f MARK")
            }
            if has(.udpTimeout) && serviceKind != .udp {
                throw .usage("--udp-timeout is only for UDP virtual services")
            }
            if scheduler.isEmpty { scheduler = SchedulerRegistry.defaultName }
        case .addDest, .editDest:
            // DR and TUN reach the server on the service's port.
            if serviceKind != .fwmark && (forward == .tunnel || forward == .directRoute) { destPort = servicePort }
            if destFamily != serviceFamily && forward != .tunnel {
                throw .usage("Different address family is allowed only for tunneling servers")
            }
            let tunnelOptions: [IPVSOption] = [.tunType, .tunPort, .tunNoCsum, .tunCsum, .tunRemCsum]
            if tunnelOptions.contains(where: { has($0) }) && forward != .tunnel {
                throw .usage("Tunnel options conflict with forward method")
            }
            try checkTunnelOptions()
        case .list:
            if (has(.connection) || has(.timeout) || has(.daemon)) && (has(.stats) || has(.rate) || has(.thresholds))
                || (has(.timeout) || has(.daemon)) && has(.persistentConn)
            {
                throw .usage("options conflicts in the list command")
            }
        case .restore:
            if readingStdin { throw .tryHelp(program) }
        default: break
        }

        try checkSupported(command)

        let key = serviceKind == .fwmark
            ? ServiceKey(fwmark: fwmark, ipv6: serviceFamily == 6)
            : ServiceKey(serviceKind == .udp ? .udp : .tcp, serviceAddress, servicePort)
        switch command {
        case .add, .edit:
            let persistence = persistent
                ? Persistence(timeout: UInt64(persistTimeout) * 1000, netmask: persistNetmask, prefixLength: persistPrefix)
                : nil
            let spec = ServiceSpec(
                key, scheduler: scheduler, schedulerFlags: schedulerFlags, persistence: persistence, matches: matches,
                onePacket: onePacket, udpTimeout: udpTimeoutSeconds.map { UInt64($0) * 1000 },
                virtualPortRange: virtualPortRange, localAddresses: localAddresses, clientAddress: clientAddress)
            if command == .add { return .addService(spec) }
            // -E without an extension option keeps the service's value (ipvsadm has no such option to
            // repeat, so replacing would silently drop a group's entries, a UDP timeout or LIPs).
            return .editService(spec, keep: ServiceExtensions(
                matches: !has(.match), udpTimeout: !has(.udpTimeout), virtualPortRange: !has(.vdportRange),
                localAddresses: !has(.laddr), clientAddress: !has(.clientAddress)))
        case .delete: return .deleteService(key)
        case .flush: return .clear
        case .list:
            if has(.connection) { return .list(.connections, format) }
            if has(.service) { return .list(.service(key), format) }
            if has(.timeout) { return .list(.timeout, format) }
            if has(.daemon) { return .list(.daemon, format) }
            return .list(.all, format)
        case .addDest, .editDest:
            let spec = DestinationSpec(
                address: destAddress, port: destPort, weight: weight, upperThreshold: upperThreshold,
                lowerThreshold: lowerThreshold, method: forward.method,
                tunnel: TunnelSettings(type: tunnelType == 1 ? .gue : .ipip, port: tunnelPort, udpChecksum: has(.tunCsum)))
            return command == .addDest ? .addServer(spec, to: key) : .editServer(spec, in: key)
        case .deleteDest: return .deleteServer(address: destAddress, port: destPort, from: key)
        case .timeout: return .setTimeouts(tcp: timeouts.0, tcpfin: timeouts.1, udp: timeouts.2)
        case .restore: return .restore
        case .save: return .save(format)
        case .zero: return .zero(has(.service) ? key : nil)
        case .startDaemon, .stopDaemon: throw .unsupported("The connection synchronization daemon is not supported yet")
        }
    }

    /// Valid ipvsadm the engine cannot do yet: a clear error instead of silently ignoring it.
    func checkSupported(_ command: IPVSCommandKind) throws(IPVSCommandError) {
        if serviceKind == .sctp { throw .unsupported("SCTP services (--sctp-service) are not supported") }
        if has(.persistenceEngine) {
            throw .unsupported("Persistence engines (--pe) are not supported yet (issue #5)")
        }
        if persistent && (command == .add || command == .edit) && serviceKind != .fwmark && servicePort == 21 {
            throw .unsupported("Persistent FTP services (port 21) are not supported: SwiftLVS has no FTP helper")
        }
        if (command == .addDest || command == .editDest) && forward == .tunnel {
            if tunnelType == 2 { throw .unsupported("GRE tunnels (--tun-type gre) are not supported; use ipip or gue") }
            if has(.tunRemCsum) {
                throw .unsupported("Remote checksum offload (--tun-remcsum) is not supported; use --tun-nocsum or --tun-csum")
            }
        }
        if command == .startDaemon || command == .stopDaemon {
            throw .unsupported("The connection synchronization daemon is not supported yet")
        }
    }
}

// MARK: - C library parsing, restated

extension IPVSParser {
    struct ParsedEndpoint {
        var family: Int
        var address: IPAddress
        var port: UInt16?
    }

    /// ipvsadm's `parse_service` for numeric input: `a.b.c.d[:port]`, `[v6]:port`, or a bare v6
    /// address. nil where ipvsadm returns SERVICE_NONE (host and service names are not resolved).
    static func parseService(_ text: String) -> ParsedEndpoint? {
        if text.allSatisfy({ $0.isASCII && $0.isNumber }) { return nil }  // also ""
        var buf = Substring(text)
        var portText: Substring? = nil
        if buf.first == "[" {
            buf = buf.dropFirst()
            guard let close = buf.firstIndex(of: "]") else { return nil }
            let after = buf[buf.index(after: close)...]
            guard after.first == ":" else { return nil }
            portText = after.dropFirst()
            buf = buf[..<close]
        }
        var result: ParsedEndpoint
        if buf.contains(":"), let a = IPAddress(buf) {
            result = ParsedEndpoint(family: 6, address: a, port: nil)
        } else {
            // As in ipvsadm, the last ':' of what is left separates the port.
            if let colon = buf.lastIndex(of: ":") {
                portText = buf[buf.index(after: colon)...]
                buf = buf[..<colon]
            } else {
                portText = nil
            }
            guard let v4 = inetAton(buf) else { return nil }
            result = ParsedEndpoint(family: 4, address: IPAddress(v4: v4), port: nil)
        }
        if let portText {
            guard let port = number(portText, 0, 65535) else { return nil }
            result.port = UInt16(port)
        }
        return result
    }

    /// glibc's `inet_aton`: 1 to 4 parts in decimal, octal (leading 0) or hex (0x), the last part
    /// filling the remaining bytes.
    static func inetAton(_ text: some StringProtocol) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...4).contains(parts.count) else { return nil }
        var values: [UInt64] = []
        for part in parts {
            var digits = Substring(part)
            var radix: UInt64 = 10
            if digits.hasPrefix("0x") || digits.hasPrefix("0X") {
                radix = 16
                digits = digits.dropFirst(2)
            } else if digits.hasPrefix("0") && digits.count > 1 {
                radix = 8
                digits = digits.dropFirst()
            }
            guard !digits.isEmpty || radix == 16 else { return nil }
            var v: UInt64 = 0
            for c in digits {
                guard let d = c.hexDigitValue, UInt64(d) < radix else { return nil }
                v = v * radix + UInt64(d)
                guard v <= 0xffff_ffff else { return nil }
            }
            values.append(v)
        }
        let last = values.removeLast()
        guard values.allSatisfy({ $0 <= 255 }), last < (UInt64(1) << (8 * (4 - values.count))) else { return nil }
        var result: UInt64 = 0
        for (i, v) in values.enumerated() { result |= v << (8 * (3 - i)) }
        return UInt32(result | last)
    }

    /// `inet_pton(AF_INET)`: strict dotted quad.
    static func inetPton4(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }), let o = UInt32(p), o <= 255,
                p.count == 1 || p.first != "0"
            else { return nil }
            v = v << 8 | o
        }
        return v
    }

    /// C `strtol(s, &end, 10)` that must consume the whole string: leading white space, an
    /// optional sign, at least one digit. nil on anything else or overflow.
    static func strtol(_ text: some StringProtocol) -> Int? {
        var s = Substring(text)
        while let c = s.first, c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\u{0B}" || c == "\u{0C}" {
            s = s.dropFirst()
        }
        var negative = false
        if let c = s.first, c == "+" || c == "-" {
            negative = c == "-"
            s = s.dropFirst()
        }
        guard !s.isEmpty, s.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        var v = 0
        for c in s {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(c.asciiValue! - 48))
            guard !o1 && !o2 else { return nil }
            v = a
        }
        return negative ? -v : v
    }

    /// ipvsadm's `string_to_number`.
    static func number(_ text: some StringProtocol, _ min: Int, _ max: Int) -> Int? {
        guard let v = strtol(text), v >= min, v <= max else { return nil }
        return v
    }

    /// C `atoi`: a leading integer, anything after it ignored, 0 when there is none.
    static func atoi(_ text: String) -> Int {
        var s = Substring(text).drop { $0 == " " || $0 == "\t" }
        var sign = 1
        if let c = s.first, c == "+" || c == "-" {
            sign = c == "-" ? -1 : 1
            s = s.dropFirst()
        }
        var v = 0
        for c in s {
            guard c.isASCII, let d = c.wholeNumberValue, v < Int.max / 10 - 10 else { break }
            v = v * 10 + d
        }
        return sign * v
    }
}
