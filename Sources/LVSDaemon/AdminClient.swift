#if canImport(Glibc)
import Glibc
#endif
import LVSControl

/// lvsadm's side of the control channel: send the argument vector (and stdin for -R), print
/// what lvsd answers, exit with its status.
public enum AdminClient {
    public static let socketEnvironment = "LVSD_SOCKET"

    /// The socket path: $LVSD_SOCKET, else lvsd's default.
    public static var socketPath: String {
        if let p = getenv(socketEnvironment) { return String(cString: p) }
        return LVSDConfiguration.defaultControlSocket
    }

    /// Runs one lvsadm invocation against the daemon; returns the exit status.
    public static func run(arguments: [String], stdin: [UInt8], socket path: String = socketPath) -> Int32 {
        let fd: Int32
        do {
            fd = try UnixSocket.connect(path)
        } catch {
            printError("lvsadm: cannot reach lvsd (\(error)); is lvsd running? (socket \(path), set \(socketEnvironment) to change it)")
            return 2
        }
        defer { close(fd) }
        UnixSocket.setTimeout(fd, seconds: 30)
        let request = AdminRequest(arguments: arguments, stdin: stdin)
        guard UnixSocket.writeAll(fd, request.encode()) else {
            printError("lvsadm: lvsd closed the connection while receiving the request")
            return 2
        }
        guard let bytes = UnixSocket.readMessage(fd, limit: 64 << 20, frameLength: AdminResponse.frameLength),
            let response = try? AdminResponse.decode(bytes)
        else {
            printError("lvsadm: no valid answer from lvsd")
            return 2
        }
        writeOut(1, response.stdout)
        writeOut(2, response.stderr)
        return response.status
    }

    /// All of standard input (for -R), or nothing when stdin is a terminal.
    public static func readStandardInput() -> [UInt8] {
        if isatty(0) != 0 { return [] }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress!, $0.count) }
            if n <= 0 { break }
            out += chunk[0..<n]
        }
        return out
    }
}
