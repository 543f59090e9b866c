// swift-tools-version: 6.2
import PackageDescription

// Linux only: the spool uses Glibc (fdatasync, pwritev, flock, inotify), so no Apple platform is declared.
let package = Package(
    name: "LogFerry",
    products: [
        .executable(name: "logferry", targets: ["logferry"]),
        .library(name: "LogFerryBytes", targets: ["LogFerryBytes"]),
        .library(name: "LogFerrySpool", targets: ["LogFerrySpool"]),
        .library(name: "LogFerryWire", targets: ["LogFerryWire"]),
        .library(name: "LogFerryNode", targets: ["LogFerryNode"]),
        .library(name: "LogFerryLogging", targets: ["LogFerryLogging"]),
        .library(name: "LogFerryNATS", targets: ["LogFerryNATS"]),
        .library(name: "LogFerryDeflate", targets: ["LogFerryDeflate"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
    ],
    targets: [
        // The system zlib (zlib1g-dev). We need Z_STREAM_END and a hard inflate cap.
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // The NATS C client's headers (libnats-dev 3.x, which has JetStream), for the JetStream sink and source.
        // Not linked: CNatsLoader loads the library when a NATS sink or source first connects.
        .systemLibrary(
            name: "CNats",
            providers: [.apt(["libnats-dev"])]
        ),
        // libnats loaded on first use: a node without NATS maps neither it nor OpenSSL (about 1.7 MB resident),
        // and starts on a host without them. Each libnats function LogFerryNATS uses is forwarded here.
        .target(name: "CNatsLoader"),
        // An async Swift API over CNats: connect, streams, publish with acks, durable pull consumers. Blocking C
        // calls run on a dispatch queue of their own, never on NIO event loops or the cooperative pool.
        .target(
            name: "LogFerryNATS",
            dependencies: [
                "CNats",
                "CNatsLoader",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Intel ISA-L (libisal-dev): igzip, the fastest deflate compressor, writing zlib streams.
        .systemLibrary(
            name: "CIsal",
            pkgConfig: "libisal",
            providers: [.apt(["libisal-dev"])]
        ),
        // libdeflate (libdeflate-dev): whole-buffer inflate that reports the exact bytes it used and produced.
        .systemLibrary(
            name: "CLibdeflate",
            pkgConfig: "libdeflate",
            providers: [.apt(["libdeflate-dev"])]
        ),
        // Whole-buffer zlib-format (RFC 1950) compress and capped inflate over ISA-L, libdeflate or zlib, behind
        // one interface that never shows a C pointer. No Foundation, no NIO (the fuzzer compiles it directly).
        .target(name: "LogFerryDeflate", dependencies: ["CIsal", "CLibdeflate", "CZlib"]),
        // CRC32C with the CPU's instruction (SSE4.2 / ARMv8 CRC), checked at run time.
        .target(name: "CLogFerryCRC32C"),
        // The byte primitives the spool, the wire and the node share: CRC32C, varints, byte order, a checked
        // reader. No Foundation, no NIO (the fuzzer compiles it with swiftc directly).
        .target(name: "LogFerryBytes", dependencies: ["CLogFerryCRC32C"]),
        // POSIX and glibc calls Swift's Glibc module does not declare: syncfs (needs _GNU_SOURCE), mallopt.
        .target(name: "CLogFerryPOSIX"),
        // The durable spool. No networking here.
        .target(
            name: "LogFerrySpool",
            dependencies: [
                "LogFerryBytes",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // Frames, the batch codec (zlib + CRC32C), the handshake and the protocol state machine.
        .target(
            name: "LogFerryWire",
            dependencies: [
                "LogFerryBytes",
                "LogFerryDeflate",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Sources, sinks, the ferry client and server: a node is sources -> spool -> sinks.
        .target(
            name: "LogFerryNode",
            dependencies: [
                "CLogFerryPOSIX",
                "LogFerrySystemd",
                "LogFerryBytes",
                "LogFerryDeflate",
                "LogFerrySpool",
                "LogFerryWire",
                "LogFerryNATS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // A swift-log LogHandler that writes into a spool.
        .target(
            name: "LogFerryLogging",
            dependencies: [
                "LogFerryNode",
                "LogFerrySpool",
                "LogFerryWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The example application of LogFerryLogging: logs N numbered messages through swift-log and ships them.
        .executableTarget(
            name: "logferry-example-app",
            dependencies: [
                "LogFerryLogging",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The command line: argument parsing, config file, service wiring.
        .executableTarget(
            name: "logferry",
            dependencies: [
                "CZlib",
                "LogFerryBytes",
                "LogFerryDeflate",
                "LogFerrySpool",
                "LogFerryWire",
                "LogFerryNode",
                "LogFerryNATS",
                "LogFerrySystemd",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            // The release binary's memory (Docs/PERFORMANCE.md, "The agent's RSS"): relocations packed into
            // DT_RELR (lld; glibc 2.36+) instead of 2.8 MB of RELA read at every start, and no dynamic symbol table
            // for the whole static Swift runtime (`-static-stdlib` exports it for plugins, which LogFerry has none
            // of). 3.5 MB less resident per agent. Debug builds (the tests) keep the toolchain's defaults.
            linkerSettings: [
                .unsafeFlags(
                    ["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic"],
                    .when(platforms: [.linux], configuration: .release))
            ]
        ),
        // What the tests share: a seeded generator, a temporary directory, a log capture, waits with deadlines,
        // child processes, and the end-to-end scene (ferry nodes, chaos proxies, in-process origins, certificates).
        // A library, not a product: every test target depends on it.
        .target(
            name: "LogFerryTestSupport",
            dependencies: [
                "CLogFerryPOSIX", "CZlib",
                "LogFerryNode", "LogFerrySpool", "LogFerryWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/LogFerryTestSupport"
        ),
        .testTarget(name: "LogFerryBytesTests", dependencies: ["LogFerryBytes", "LogFerryTestSupport"]),
        .testTarget(name: "LogFerryDeflateTests", dependencies: ["CZlib", "LogFerryDeflate", "LogFerryTestSupport"]),
        .testTarget(name: "LogFerrySpoolTests", dependencies: ["LogFerryBytes", "LogFerrySpool", "LogFerryTestSupport"]),
        .testTarget(
            name: "LogFerryWireTests",
            dependencies: [
                "CZlib", "LogFerryBytes", "LogFerryDeflate", "LogFerryTestSupport", "LogFerryWire",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            resources: [.copy("Vectors")]
        ),
        .testTarget(
            name: "LogFerryNodeTests",
            dependencies: [
                "LogFerryBytes", "LogFerryNATS", "LogFerryNode", "LogFerrySpool", "LogFerrySystemd",
                "LogFerryTestSupport", "LogFerryWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // libsystemd (libsystemd-dev): sd-journal to read the journal, sd-daemon for sd_notify.
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        // The journal reader and sd_notify as a small async Swift API over CSystemd; no C pointer leaks out.
        .target(
            name: "LogFerrySystemd",
            dependencies: [
                "CSystemd",
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "LogFerrySystemdTests", dependencies: ["LogFerrySystemd", "LogFerryTestSupport"]),
        .testTarget(
            name: "LogFerryNATSTests",
            dependencies: ["LogFerryNATS", "LogFerryTestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                // `logferry` so the binary the tests run is built first.
                "LogFerryBytes", "LogFerrySpool", "LogFerryWire", "LogFerryNode", "LogFerryTestSupport", "logferry",
                // `logferry-example-app` so the example app the tests run is built first.
                "logferry-example-app",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)

// The swift-log handler's own tests (buffer policy, events into a spool).
package.targets.append(
    .testTarget(
        name: "LogFerryLoggingTests",
        dependencies: [
            "LogFerryLogging", "LogFerryNode", "LogFerrySpool", "LogFerryTestSupport", "LogFerryWire",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]
    )
)
