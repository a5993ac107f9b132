// TCPStateMachine.next against the spec's normal table (section 2.2), transcribed cell by cell
// from the spec text, plus the flag priority RST > SYN > FIN > ACK, "no flag -> CLOSE", and the
// default / --set timeouts.
import LVSPacket
import Testing

@testable import LVSEngine

struct TransitionRow: Sendable, CustomTestStringConvertible {
    var direction: PacketDirection
    var flagName: String
    var flags: UInt8
    /// Next state per current state, columns NO ES SS SR FW TW CL CW LA LI SA.
    var cells: String
    var testDescription: String { "\(direction) \(flagName)" }
}

let specAbbreviations: [String: TCPState] = [
    "NO": .none, "ES": .established, "SS": .synSent, "SR": .synRecv, "FW": .finWait, "TW": .timeWait,
    "CL": .close, "CW": .closeWait, "LA": .lastAck, "LI": .listen, "SA": .synAck,
]

/// The table's columns in order (the kernel's state numbering).
let specColumns: [TCPState] = [
    .none, .established, .synSent, .synRecv, .finWait, .timeWait, .close, .closeWait, .lastAck, .listen, .synAck,
]

/// Spec 2.2, "Normal table (tcp_states, newest kernel)"; ES* cells are the newest behaviour.
let specTransitionRows: [TransitionRow] = [
    TransitionRow(direction: .input, flagName: "syn", flags: TCPFlag.syn, cells: "SR ES ES SR SR SR SR SR SR SR SR"),
    TransitionRow(direction: .input, flagName: "fin", flags: TCPFlag.fin, cells: "CL CW SS TW TW TW CL CW LA LI TW"),
    TransitionRow(direction: .input, flagName: "ack", flags: TCPFlag.ack, cells: "ES ES SS ES FW TW CL CW CL LI ES"),
    TransitionRow(direction: .input, flagName: "rst", flags: TCPFlag.rst, cells: "CL CL CL SR CL CL CL CL LA LI SR"),
    TransitionRow(direction: .output, flagName: "syn", flags: TCPFlag.syn, cells: "SS ES SS SR SS SS SS SS SS LI SR"),
    TransitionRow(direction: .output, flagName: "fin", flags: TCPFlag.fin, cells: "TW FW SS TW FW TW CL TW LA LI TW"),
    TransitionRow(direction: .output, flagName: "ack", flags: TCPFlag.ack, cells: "ES ES SS ES FW TW CL CW LA ES ES"),
    TransitionRow(direction: .output, flagName: "rst", flags: TCPFlag.rst, cells: "CL CL SS CL CL TW CL CL CL CL CL"),
    TransitionRow(direction: .inputOnly, flagName: "syn", flags: TCPFlag.syn, cells: "SR ES ES SR SR SR SR SR SR SR SR"),
    TransitionRow(direction: .inputOnly, flagName: "fin", flags: TCPFlag.fin, cells: "CL FW SS TW FW TW CL CW LA LI TW"),
    TransitionRow(direction: .inputOnly, flagName: "ack", flags: TCPFlag.ack, cells: "ES ES SS ES FW TW CL CW CL LI ES"),
    TransitionRow(direction: .inputOnly, flagName: "rst", flags: TCPFlag.rst, cells: "CL CL CL SR CL CL CL CL LA LI CL"),
]

func specCells(_ row: TransitionRow) -> [TCPState] {
    row.cells.split(separator: " ").map { specAbbreviations[String($0)]! }
}

@Suite("TCP state machine")
struct TCPStateMachineTests {
    @Test(arguments: specTransitionRows)
    func everyCellOfTheSpecTable(_ row: TransitionRow) {
        let expected = specCells(row)
        #expect(expected.count == 11)
        for (current, next) in zip(specColumns, expected) {
            let got = TCPStateMachine.next(current, flags: row.flags, direction: row.direction)
            #expect(got == next, "\(row.direction) \(row.flagName) in \(current): expected \(next), got \(got)")
        }
    }

    /// Flags the classification ignores (PSH, URG, ECE, CWR) must not change the row.
    @Test(arguments: specTransitionRows)
    func ignoredFlagsDoNotChangeTheRow(_ row: TransitionRow) {
        let noise = TCPFlag.psh | TCPFlag.urg | TCPFlag.ece | TCPFlag.cwr
        for (current, next) in zip(specColumns, specCells(row)) {
            #expect(TCPStateMachine.next(current, flags: row.flags | noise, direction: row.direction) == next)
        }
    }

    static let directions: [PacketDirection] = [.input, .output, .inputOnly]

    func row(_ d: PacketDirection, _ flag: String) -> [TCPState] {
        specCells(specTransitionRows.first { $0.direction == d && $0.flagName == flag }!)
    }

    @Test(arguments: directions)
    func rstBeatsEverything(_ d: PacketDirection) {
        let rst = row(d, "rst")
        for combo: UInt8 in [TCPFlag.rst | TCPFlag.syn, TCPFlag.rst | TCPFlag.fin, TCPFlag.rst | TCPFlag.ack,
                             TCPFlag.rst | TCPFlag.syn | TCPFlag.fin | TCPFlag.ack]
        {
            for (i, s) in specColumns.enumerated() {
                #expect(TCPStateMachine.next(s, flags: combo, direction: d) == rst[i])
            }
        }
    }

    @Test(arguments: directions)
    func synBeatsFinAndAck(_ d: PacketDirection) {
        let synRow = row(d, "syn")
        for combo: UInt8 in [TCPFlag.syn | TCPFlag.ack, TCPFlag.syn | TCPFlag.fin,
                             TCPFlag.syn | TCPFlag.fin | TCPFlag.ack]
        {
            for (i, s) in specColumns.enumerated() {
                #expect(TCPStateMachine.next(s, flags: combo, direction: d) == synRow[i])
            }
        }
    }

    @Test(arguments: directions)
    func finBeatsAck(_ d: PacketDirection) {
        let finRow = row(d, "fin")
        for (i, s) in specColumns.enumerated() {
            #expect(TCPStateMachine.next(s, flags: TCPFlag.fin | TCPFlag.ack, direction: d) == finRow[i])
        }
    }

    @Test(arguments: directions)
    func noneOfTheFourFlagsForcesClose(_ d: PacketDirection) {
        for flags: UInt8 in [0, TCPFlag.psh, TCPFlag.urg, TCPFlag.psh | TCPFlag.urg | TCPFlag.ece | TCPFlag.cwr] {
            for s in TCPState.allCases {
                #expect(TCPStateMachine.next(s, flags: flags, direction: d) == .close)
            }
        }
    }

    @Test func selectedCellsSpelledOut() {
        // A few cells written out longhand, the ones the NAT and DR paths rely on most.
        #expect(TCPStateMachine.next(.none, flags: TCPFlag.syn, direction: .input) == .synRecv)
        #expect(TCPStateMachine.next(.synRecv, flags: TCPFlag.syn | TCPFlag.ack, direction: .output) == .synRecv)
        #expect(TCPStateMachine.next(.synRecv, flags: TCPFlag.ack, direction: .input) == .established)
        #expect(TCPStateMachine.next(.established, flags: TCPFlag.fin | TCPFlag.ack, direction: .input) == .closeWait)
        #expect(TCPStateMachine.next(.established, flags: TCPFlag.fin | TCPFlag.ack, direction: .inputOnly) == .finWait)
        #expect(TCPStateMachine.next(.established, flags: TCPFlag.fin | TCPFlag.ack, direction: .output) == .finWait)
        #expect(TCPStateMachine.next(.closeWait, flags: TCPFlag.fin, direction: .output) == .timeWait)
        #expect(TCPStateMachine.next(.lastAck, flags: TCPFlag.ack, direction: .input) == .close)
        #expect(TCPStateMachine.next(.lastAck, flags: TCPFlag.ack, direction: .output) == .lastAck)
        // The newest kernel: NONE -> ESTABLISHED on a bare ACK (older kernels: CLOSE).
        #expect(TCPStateMachine.next(.none, flags: TCPFlag.ack, direction: .input) == .established)
        #expect(TCPStateMachine.next(.none, flags: TCPFlag.ack, direction: .inputOnly) == .established)
        // RST in SYN_RECV from the client keeps SYN_RECV; from the server it closes.
        #expect(TCPStateMachine.next(.synRecv, flags: TCPFlag.rst, direction: .input) == .synRecv)
        #expect(TCPStateMachine.next(.synRecv, flags: TCPFlag.rst, direction: .output) == .close)
        // OUTPUT rst in TIME_WAIT stays TIME_WAIT; INPUT_ONLY rst in SYNACK closes.
        #expect(TCPStateMachine.next(.timeWait, flags: TCPFlag.rst, direction: .output) == .timeWait)
        #expect(TCPStateMachine.next(.synAck, flags: TCPFlag.rst, direction: .inputOnly) == .close)
        #expect(TCPStateMachine.next(.synAck, flags: TCPFlag.rst, direction: .input) == .synRecv)
    }

    @Test func stateNumberingAndNames() {
        #expect(specColumns.map(\.rawValue) == Array(0...10))
        #expect(TCPState.allCases == specColumns)
        #expect(specColumns.map(\.description) == [
            "NONE", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT", "CLOSE", "CLOSE_WAIT",
            "LAST_ACK", "LISTEN", "SYNACK",
        ])
    }
}

@Suite("Timeouts")
struct TimeoutsTests {
    @Test func ipvsDefaults() {
        let t = Timeouts.ipvsDefaults
        let seconds: [(TCPState, UInt64)] = [
            (.none, 2), (.established, 900), (.synSent, 120), (.synRecv, 60), (.finWait, 120), (.timeWait, 120),
            (.close, 10), (.closeWait, 60), (.lastAck, 30), (.listen, 120), (.synAck, 120),
        ]
        for (s, secs) in seconds {
            #expect(t[s] == secs * 1000, "\(s)")
            #expect(t.tcp[Int(s.rawValue)] == secs * 1000, "\(s)")
        }
        #expect(t.tcp.count == 11)
        #expect(t.udp == 300_000)
    }

    @Test func setWithZerosChangesNothing() {
        var t = Timeouts.ipvsDefaults
        t.set(tcp: 0, tcpfin: 0, udp: 0)
        #expect(t == Timeouts.ipvsDefaults)
    }

    @Test func setWritesEstablishedFinWaitAndUDPOnly() {
        var t = Timeouts.ipvsDefaults
        t.set(tcp: 3600, tcpfin: 0, udp: 0)
        var expected = Timeouts.ipvsDefaults
        expected[.established] = 3_600_000
        #expect(t == expected)

        t.set(tcp: 0, tcpfin: 30, udp: 0)
        expected[.finWait] = 30_000
        #expect(t == expected)
        #expect(t[.timeWait] == 120_000)  // tcpfin is FIN_WAIT only
        #expect(t[.closeWait] == 60_000)

        t.set(tcp: 0, tcpfin: 0, udp: 45)
        expected.udp = 45_000
        #expect(t == expected)

        t.set(tcp: 1, tcpfin: 2, udp: 3)
        #expect(t[.established] == 1000)
        #expect(t[.finWait] == 2000)
        #expect(t.udp == 3000)
        #expect(t[.synRecv] == 60_000)
        #expect(t[.none] == 2000)
    }
}
