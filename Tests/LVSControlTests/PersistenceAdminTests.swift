import LVSEngine
import LVSPacket
import Testing

@testable import LVSControl

/// lvsadm -p/-M end to end against a real Director: -L -n, -S, --persistent-conn and -c.
@Suite struct PersistenceAdminTests {
    func syn(_ client: String, _ port: UInt16) -> [UInt8] {
        PacketBuilder().ethernet().ipv4(src: IPAddress(client)!, dst: IPAddress("10.0.0.100")!)
            .tcp(src: port, dst: 443, flags: TCPFlag.syn).bytes()
    }

    @Test func persistentServiceThroughLvsadm() {
        var bench = AdminBench(capacity: 1024)
        bench.ok("-A -t 10.0.0.100:443 -s rr -p 600 -M 255.255.255.0")
        bench.ok("-a -t 10.0.0.100:443 -r 192.168.10.2 -m")
        bench.ok("-a -t 10.0.0.100:443 -r 192.168.10.3 -m")
        bench.send(syn("203.0.113.7", 40000))
        bench.send(syn("203.0.113.9", 40001))  // same /24: same server, same template
        bench.send(syn("198.51.100.1", 40002))
        #expect(bench.ok("-L -n") == """
            IP Virtual Server version 1.2.1 (size=1024)
            Prot LocalAddress:Port Scheduler Flags
              -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
            TCP  10.0.0.100:443 rr persistent 600 mask 255.255.255.0
              -> 192.168.10.2:443             Masq    1      0          2         
              -> 192.168.10.3:443             Masq    1      0          1         

            """)
        #expect(bench.ok("-L -n --persistent-conn") == """
            IP Virtual Server version 1.2.1 (size=1024)
            Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn 
              -> RemoteAddress:Port
            TCP  10.0.0.100:443 rr persistent 600 mask 255.255.255.0
              -> 192.168.10.2:443             1         1           0          2         
              -> 192.168.10.3:443             1         1           0          1         

            """)
        #expect(bench.ok("-S -n") == """
            -A -t 10.0.0.100:443 -s rr -p 600 -M 255.255.255.0
            -a -t 10.0.0.100:443 -r 192.168.10.2:443 -m -w 1
            -a -t 10.0.0.100:443 -r 192.168.10.3:443 -m -w 1

            """)
        let conns = bench.ok("-L -n -c").split(separator: "\n").map(String.init)
        #expect(conns.contains("TCP 10:00  NONE        203.0.113.0:0      10.0.0.100:443     192.168.10.2:443"))
        #expect(conns.contains("TCP 10:00  NONE        198.51.100.0:0     10.0.0.100:443     192.168.10.3:443"))
        #expect(conns.filter { $0.contains("SYN_RECV") }.count == 3)
        // -E edits persistence in place; -E without -p turns it off.
        bench.ok("-E -t 10.0.0.100:443 -s rr -p")
        #expect(bench.ok("-S -n").hasPrefix("-A -t 10.0.0.100:443 -s rr -p 360\n"))
        bench.ok("-E -t 10.0.0.100:443 -s rr")
        #expect(bench.ok("-S -n").hasPrefix("-A -t 10.0.0.100:443 -s rr\n"))
        // Restoring a saved persistent rule set.
        bench.ok("-C")
        bench.ok("-R", stdin: "-A -u 10.0.0.53:53 -s rr -p 30\n-a -u 10.0.0.53:53 -r 192.168.10.2:53 -m -w 1\n")
        #expect(bench.ok("-S -n") == "-A -u 10.0.0.53:53 -s rr -p 30\n-a -u 10.0.0.53:53 -r 192.168.10.2:53 -m -w 1\n")
    }
}
