import LVSPacket

// Accessors the ipvsadm-compatible admin layer (LVSControl) needs beyond the snapshot API.

extension ConnectionSnapshot {
    /// A connection row built outside the engine (listings of recorded or synthetic state, tests).
    public init(_ proto: TransportProtocol, state: String, expiresIn: UInt64, client: Endpoint, virtual: Endpoint,
                destination: Endpoint) {
        self.proto = proto
        self.state = state
        self.expiresIn = expiresIn
        self.client = client
        self.virtual = virtual
        self.destination = destination
    }
}
