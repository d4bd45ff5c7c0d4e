// swift-tools-version: 6.1
import PackageDescription

/// The engine is unusably slow without optimization, and `swift test` builds in debug: these targets are
/// always optimized so the test suite stays within minutes (allowed here because Agora is a root package).
/// Whole-module so the forward pass inlines its small helpers across files; `-num-threads` keeps one object
/// file per source file, which debug builds' index store and autolink steps expect (plain `-wmo` breaks them).
let engineSwiftSettings: [SwiftSetting] = [.unsafeFlags(["-O", "-wmo", "-num-threads", "2"])]
let kernelCSettings: [CSetting] = [.unsafeFlags(["-O3", "-ffp-contract=off", "-fno-fast-math"])]

let package = Package(
    name: "Agora",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "agora", targets: ["agora"]),
        .library(name: "AgoraCore", targets: ["AgoraCore"]),
        .library(name: "AgoraLedger", targets: ["AgoraLedger"]),
        .library(name: "AgoraInference", targets: ["AgoraInference"]),
        .library(name: "AgoraWire", targets: ["AgoraWire"]),
        .library(name: "AgoraClient", targets: ["AgoraClient"]),
        .library(name: "AgoraNode", targets: ["AgoraNode"]),
        .library(name: "AgoraAgents", targets: ["AgoraAgents"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        .target(
            name: "AgoraCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "AgoraLedger",
            dependencies: [
                "AgoraCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "CAgoraKernels",
            cSettings: kernelCSettings
        ),
        .target(
            name: "AgoraInference",
            dependencies: ["AgoraCore", "CAgoraKernels", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: engineSwiftSettings
        ),
        // The node side in three layers, so a client needs neither the server, SQLite nor the engine:
        // wire types and voucher/receipt checks, then the clients (node and remote ledger), then the servers.
        .target(
            name: "AgoraWire",
            dependencies: ["AgoraCore", "AgoraLedger", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "AgoraClient",
            dependencies: ["AgoraCore", "AgoraLedger", "AgoraWire", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "AgoraNode",
            dependencies: [
                "AgoraCore",
                "AgoraLedger",
                "AgoraWire",
                "AgoraInference",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "AgoraAgents",
            dependencies: [
                "AgoraCore", "AgoraLedger", "AgoraWire", "AgoraClient", "AgoraNode",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .executableTarget(
            name: "agora",
            dependencies: [
                "AgoraCore",
                "AgoraLedger",
                "AgoraInference",
                "AgoraWire",
                "AgoraClient",
                "AgoraNode",
                "AgoraAgents",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "AgoraCoreTests",
            dependencies: ["AgoraCore", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(
            name: "AgoraLedgerTests",
            dependencies: [
                "AgoraCore", "AgoraLedger", .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "AgoraNodeTests",
            dependencies: [
                "AgoraCore", "AgoraLedger", "AgoraInference", "AgoraWire", "AgoraClient", "AgoraNode",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "AgoraAgentsTests",
            dependencies: [
                "AgoraCore", "AgoraLedger", "AgoraInference", "AgoraWire", "AgoraClient", "AgoraNode", "AgoraAgents",
            ]
        ),
        .testTarget(
            name: "AgoraInferenceTests",
            dependencies: ["AgoraCore", "AgoraInference"],
            swiftSettings: engineSwiftSettings
        ),
    ]
)
