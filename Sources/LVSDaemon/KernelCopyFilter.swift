#if canImport(Glibc)
import Glibc
#endif
import LVSPacket

/// Drops the kernel's own copy of the frames the data plane handles, at netdev ingress.
///
/// An AF_PACKET tap sees every frame before the netdev ingress hook, so the data plane is not
/// affected; the kernel, which would only drop those frames later (the VIP is not a local address
/// and forwarding is off), no longer spends time on them: ~15% more capacity on these machines
/// (packet-io-notes.md). Dropped: packets to a VIP, and packets from a real server to a
/// non-local address (NAT replies). Everything else still reaches the kernel. Installed with
/// nft(8) as table `netdev lvsd`; without nft, lvsd runs without it and says so.
struct KernelCopyFilter {
    static let table = "lvsd"
    let interfaces: [String]

    /// The ruleset for these addresses (an atomic replace of the table).
    func ruleset(vips: [IPAddress], realServers: [IPAddress], local: [IPAddress]) -> String {
        func set(_ name: String, _ addrs: [IPAddress]) -> String {
            let v4 = Set(addrs.filter(\.isIPv4)).map(\.description).sorted()
            return "    set \(name) { type ipv4_addr;\(v4.isEmpty ? "" : " elements = { \(v4.joined(separator: ", ")) };") }\n"
        }
        var out = "table netdev \(Self.table)\ndelete table netdev \(Self.table)\ntable netdev \(Self.table) {\n"
        out += set("vips", vips) + set("rips", realServers) + set("locals", local)
        for (i, ifc) in interfaces.enumerated() {
            out += "    chain in\(i) {\n"
            out += "        type filter hook ingress device \"\(ifc)\" priority -500; policy accept;\n"
            out += "        ip daddr @vips drop\n"
            out += "        ip saddr @rips ip daddr != @locals drop\n"
            out += "    }\n"
        }
        return out + "}\n"
    }

    /// Installs or updates the table; returns nil or why it could not.
    func install(vips: [IPAddress], realServers: [IPAddress], local: [IPAddress]) -> String? {
        runNFT(ruleset(vips: vips, realServers: realServers, local: local))
    }

    func remove() { _ = runNFT("table netdev \(Self.table)\ndelete table netdev \(Self.table)\n") }

    func runNFT(_ input: String) -> String? {
        let candidates: [String] = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
        guard let nft = candidates.first(where: { access($0, X_OK) == 0 }) else {
            return "nft(8) not found"
        }
        guard let pipe = popen("\(nft) -f - 2>&1", "w") else { return "cannot run \(nft)" }
        fputs(input, pipe)
        let status = pclose(pipe)
        return status == 0 ? nil : "nft exited with status \(status)"
    }
}
