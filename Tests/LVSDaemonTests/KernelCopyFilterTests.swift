import LVSPacket
import Testing

@testable import LVSDaemon

@Suite struct KernelCopyFilterTests {
    @Test func rulesetReplacesTheTableAtomicallyAndCoversEveryInterface() {
        let f = KernelCopyFilter(interfaces: ["d0", "d1"])
        let text = f.ruleset(
            vips: [IPAddress("10.0.1.100")!, IPAddress("10.0.1.100")!],
            realServers: [IPAddress("192.168.10.3")!, IPAddress("192.168.10.2")!, IPAddress("fd00::2")!],
            local: [IPAddress("10.0.1.1")!])
        let expected = """
            table netdev lvsd
            delete table netdev lvsd
            table netdev lvsd {
                set vips { type ipv4_addr; elements = { 10.0.1.100 }; }
                set rips { type ipv4_addr; elements = { 192.168.10.2, 192.168.10.3 }; }
                set locals { type ipv4_addr; elements = { 10.0.1.1 }; }
                chain in0 {
                    type filter hook ingress device "d0" priority -500; policy accept;
                    ip daddr @vips drop
                    ip saddr @rips ip daddr != @locals drop
                }
                chain in1 {
                    type filter hook ingress device "d1" priority -500; policy accept;
                    ip daddr @vips drop
                    ip saddr @rips ip daddr != @locals drop
                }
            }

            """
        #expect(text == expected)
    }

    @Test func emptySetsHaveNoElementsClause() {
        let text = KernelCopyFilter(interfaces: ["d0"]).ruleset(vips: [], realServers: [], local: [])
        #expect(text.contains("set vips { type ipv4_addr; }"))
    }
}
