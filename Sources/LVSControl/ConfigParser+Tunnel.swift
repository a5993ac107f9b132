import LVSEngine
import LVSPacket
import Yams

// `method: tun` real servers: the `tunnel` mapping ({type: ipip} or {type: gue, port: N,
// checksum: true|false}), ipvsadm's --tun-type / --tun-port / --tun-[no]csum.
extension ConfigParser {
    static let tunnelKeys = ["type", "port", "checksum"]

    /// Reads a real server's `tunnel` mapping; `method` is the server's forwarding method.
    func tunnel(_ node: Node?, method: ForwardingMethod) throws(ConfigError) -> TunnelSettings {
        guard let node else {
            return TunnelSettings()
        }
        guard method == .tunnel else {
            throw error(node, "'tunnel' applies only to real servers with 'method: tun'")
        }
        let f = try fields(node, "a tunnel", allowed: Self.tunnelKeys)
        var settings = TunnelSettings()
        if let v = f.optional("type") {
            switch try string(v, "type") {
            case "ipip": settings.type = .ipip
            case "gue": settings.type = .gue
            default: throw error(v, "'type' must be ipip or gue, got \(Self.describe(v))")
            }
        }
        if let v = f.optional("port") {
            guard settings.type == .gue else { throw error(v, "'port' applies only to 'type: gue' tunnels") }
            settings.port = try integer(v, "port", 1...65535)
        } else if settings.type == .gue {
            throw error(node, "a gue tunnel is missing the required key 'port' (the real server's lvs-tunnel UDP port)")
        }
        if let v = f.optional("checksum") {
            guard settings.type == .gue else { throw error(v, "'checksum' applies only to 'type: gue' tunnels") }
            switch try string(v, "checksum") {
            case "true": settings.udpChecksum = true
            case "false": settings.udpChecksum = false
            default: throw error(v, "'checksum' must be true or false, got \(Self.describe(v))")
            }
        }
        return settings
    }
}
