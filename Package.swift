// swift-tools-version:6.1
// SwiftLVS: the Linux Virtual Server rebuilt in Swift.
//
// Layering (docs/ARCHITECTURE.md): LVSPacket (wire formats) <- LVSEngine (pure director logic)
// <- data plane / control plane / executables. LVSPacket and LVSEngine depend on the standard
// library only, so their tests build in seconds and run without privileges.
import PackageDescription

let optimized: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "SwiftLVS",
    products: [
        .library(name: "LVSPacket", targets: ["LVSPacket"]),
        .library(name: "LVSEngine", targets: ["LVSEngine"]),
        .library(name: "LVSControl", targets: ["LVSControl"]),
        .executable(name: "lvsd", targets: ["lvsd"]),
        .executable(name: "lvsadm", targets: ["lvsadm"]),
        .executable(name: "lvs-demo", targets: ["lvs-demo"]),
        .executable(name: "lvs-tunnel", targets: ["lvs-tunnel"]),
        .executable(name: "LVSBench", targets: ["LVSBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // Linux packet-socket structs and constants that Glibc does not export to Swift.
        .target(name: "CLinuxNet", cSettings: [.define("_GNU_SOURCE")]),
        .target(name: "LVSPacket", swiftSettings: optimized),
        .target(name: "LVSEngine", dependencies: ["LVSPacket"], swiftSettings: optimized),
        // Control-plane logic without packet I/O: ipvsadm syntax and listings, the lvsd
        // configuration file, metrics rendering.
        .target(name: "LVSControl", dependencies: ["LVSEngine", .product(name: "Yams", package: "Yams")]),
        // Health checking (keepalived's checkers, agent weights): a pure state machine plus
        // POSIX-socket probes, one thread per checker (docs/HEALTH.md).
        .target(name: "LVSHealth", dependencies: ["LVSControl", "LVSEngine", "CTLS"]),
        // TLS for SSL_GET through the system's OpenSSL (Debian: libssl-dev).
        .target(name: "CTLS", linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]),
        // The AF_PACKET data plane: rings, ARP, neighbours, routes, the worker loop.
        .target(name: "LVSDataPlane", dependencies: ["LVSEngine", "CLinuxNet"]),
        // The layer-7 HTTP/1.1 content switch on SwiftNIO (docs/L7.md); reuses LVSEngine's schedulers
        // and LVSHealth's probes and checker timing (active health of the pools).
        .target(
            name: "LVSL7",
            dependencies: [
                "LVSEngine", "LVSControl", "LVSHealth", .product(name: "Yams", package: "Yams"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: optimized),
        // The daemon and the admin client as a library, so lvsd, lvsadm and lvs-demo share them.
        .target(
            name: "LVSDaemon",
            dependencies: ["LVSControl", "LVSHealth", "LVSDataPlane", "LVSL7", .product(name: "Logging", package: "swift-log")]),
        .executableTarget(name: "lvsd", dependencies: ["LVSDaemon"]),
        .executableTarget(name: "lvsadm", dependencies: ["LVSDaemon"]),
        .executableTarget(name: "lvs-demo", dependencies: ["LVSDaemon"]),
        // The VS/TUN real-server agent: decapsulation logic (pure, tested) and the executable.
        .target(name: "LVSTunnel", dependencies: ["LVSPacket", "CLinuxNet"]),
        .executableTarget(name: "lvs-tunnel", dependencies: ["LVSTunnel", "CLinuxNet"]),
        // Benchmarks: plain executables printing `name value unit` lines (scripts/bench.sh).
        .target(name: "CMallocCounter", path: "Benchmarks/CMallocCounter"),
        .executableTarget(
            name: "LVSBench", dependencies: ["LVSEngine", "CMallocCounter"], path: "Benchmarks/LVSBench",
            swiftSettings: optimized),
        .testTarget(name: "LVSPacketTests", dependencies: ["LVSPacket"]),
        .testTarget(name: "LVSEngineTests", dependencies: ["LVSEngine"]),
        // Fixtures are read from the source tree (#filePath), not bundled as resources.
        .testTarget(name: "LVSControlTests", dependencies: ["LVSControl", "LVSEngine"], exclude: ["Fixtures"]),
        .testTarget(name: "LVSHealthTests", dependencies: ["LVSHealth"]),
        .testTarget(name: "LVSDataPlaneTests", dependencies: ["LVSDataPlane"]),
        .testTarget(name: "LVSDaemonTests", dependencies: ["LVSDaemon"]),
        .testTarget(name: "LVSTunnelTests", dependencies: ["LVSTunnel"]),
        .testTarget(name: "LVSL7Tests", dependencies: ["LVSL7", "LVSHealth"]),
    ]
)
