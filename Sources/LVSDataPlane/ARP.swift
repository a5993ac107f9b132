import LVSPacket

/// ARP for the data plane: answering requests for the VIPs it owns and building its own requests.
public enum ARP {
    /// Turns a request (already validated as Ethernet/IPv4 ARP) into the reply "`target` is at `mac`",
    /// in place. The frame keeps its length (replies are the same size as requests).
    public static func answer(_ frame: UnsafeMutableRawPointer, arpOffset: Int, mac: MACAddress) {
        let arp = ARPView(unsafe: frame + arpOffset)
        let requester = arp.senderMAC
        let requesterIP = arp.senderIP
        let target = arp.targetIP
        arp.operation = ARPView.reply
        arp.senderMAC = mac
        arp.senderIP = target
        arp.targetMAC = requester
        arp.targetIP = requesterIP
        let eth = EthernetView(frame, length: arpOffset)!
        eth.destination = requester
        eth.source = mac
    }

    /// Writes a broadcast request "who has `target`? tell `sender`" (42 bytes) at `frame`.
    /// Returns its length.
    public static func request(_ frame: UnsafeMutableRawPointer, senderMAC: MACAddress, senderIP: IPAddress,
                               target: IPAddress) -> Int {
        MACAddress.broadcast.store(to: frame, 0)
        senderMAC.store(to: frame, 6)
        frame.setBE16(EtherType.arp, 12)
        let arp = frame + HeaderSize.ethernet
        arp.setBE16(1, 0)
        arp.setBE16(EtherType.ipv4, 2)
        arp.setU8(6, 4)
        arp.setU8(4, 5)
        arp.setBE16(ARPView.request, 6)
        senderMAC.store(to: arp, 8)
        arp.setRaw32(senderIP.v4Raw, 14)
        MACAddress.zero.store(to: arp, 18)
        arp.setRaw32(target.v4Raw, 24)
        return HeaderSize.ethernet + HeaderSize.arpIPv4
    }
}

extension ARPView {
    /// Wraps an ARP header whose length the caller has checked.
    init(unsafe base: UnsafeMutableRawPointer) { self.init(base, length: HeaderSize.arpIPv4)! }
}
