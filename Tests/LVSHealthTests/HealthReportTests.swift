import LVSControl
import LVSEngine
import LVSPacket
import Testing

@testable import LVSHealth

/// `lvsadm -L -n --health` and the metrics lines.
@Suite struct HealthReportTests {
    static let listing = """
        IP Virtual Server version 1.2.1 (size=4096)
        Prot LocalAddress:Port Scheduler Flags
          -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
        TCP  10.0.1.100:80 wrr
          -> 192.168.10.2:8080            Masq    1      0          0
          -> 192.168.10.4:8080            Masq    3      0          0
        TCP  10.0.1.100:81 rr
          -> 192.168.10.9:80              Masq    1      0          0
          -> 192.168.10.10:80             Masq    0      3          1
        """

    @Test func healthColumnAndRemovedServers() {
        var b = HealthBook(HealthBookTests.config(), now: 0)
        _ = b.record(HealthBookTests.id(2), .down(reason: "connect to 192.168.10.3:8080: Connection refused"), now: 1)
        #expect(HealthReport.annotate(Self.listing, b) == """
            IP Virtual Server version 1.2.1 (size=4096)
            Prot LocalAddress:Port Scheduler Flags
              -> RemoteAddress:Port           Forward Weight ActiveConn InActConn  Health
            TCP  10.0.1.100:80 wrr
              -> 192.168.10.2:8080            Masq    1      0          0  UP
              -> 192.168.10.4:8080            Masq    3      0          0  UP
              -> 192.168.10.3:8080            (not in table)  DOWN (TCP_CHECK: connect to 192.168.10.3:8080: Connection refused)
            TCP  10.0.1.100:81 rr
              -> 192.168.10.9:80              Masq    1      0          0  -
              -> 192.168.10.10:80             Masq    0      3          1  DRAIN (weight 0)
            """)
    }

    @Test func metricsLines() {
        var b = HealthBook(HealthBookTests.config(weights: [1, 2], sorry: true), now: 0)
        _ = b.record(HealthBookTests.id(1), .down(reason: "x"), now: 1)
        let m = HealthReport.metrics(b)
        let labels = "protocol=\"tcp\",local_address=\"10.0.1.100\",local_port=\"80\""
        #expect(m.contains("lvs_real_server_up{\(labels),remote_address=\"192.168.10.2\",remote_port=\"8080\"} 0\n"))
        #expect(m.contains("lvs_real_server_up{\(labels),remote_address=\"192.168.10.3\",remote_port=\"8080\"} 1\n"))
        #expect(m.contains("lvs_real_server_weight_effective{\(labels),remote_address=\"192.168.10.2\",remote_port=\"8080\"} 0\n"))
        #expect(m.contains("lvs_real_server_weight_effective{\(labels),remote_address=\"192.168.10.3\",remote_port=\"8080\"} 2\n"))
        #expect(m.contains("lvs_service_quorum_up{\(labels)} 1\n"))
    }
}
