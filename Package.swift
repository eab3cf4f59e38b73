// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "pybgd",
    products: [
        .library(name: "PyBackground", targets: ["PyBackground"]),
        .library(name: "PyBackgroundProtocol", targets: ["PyBackgroundProtocol"]),
        .library(name: "PyBackgroundDaemon", targets: ["PyBackgroundDaemon"]),
        .library(name: "PyBackgroundClient", targets: ["PyBackgroundClient"]),
        .library(name: "PyBackgroundTesting", targets: ["PyBackgroundTesting"]),
        .executable(name: "pybgd", targets: ["pybgd"]),
        .executable(name: "pybgctl", targets: ["pybgctl"]),
        .executable(name: "pybgd-exec", targets: ["pybgd-exec"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // Without its default traits: swift-configuration is not used, and would add to every build.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // The scheduler core: standard library, Dispatch, Synchronization and Foundation only
        // (FoundationEssentials, and Foundation for named time zones in CronSchedule).
        .target(name: "PyBackground"),

        // libsystemd (sd_notify, sd_listen_fds, sd_watchdog_enabled): Debian's libsystemd-dev.
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),

        // The control protocol: request/response types and pure parse/format functions, no I/O.
        .target(name: "PyBackgroundProtocol"),

        // The durable task tables: a SQLite file in WAL mode (GRDB over Debian's libsqlite3-dev),
        // written in group commits. Rows and changes of the core's tasks; nothing of sockets or registries.
        .target(
            name: "PyBackgroundState",
            dependencies: ["PyBackground", .product(name: "GRDB", package: "GRDB.swift")]),

        // The PostgreSQL store that several pybgd hosts share (postgres-nio): its connection
        // settings, its versioned schema, and (as it grows) claims, leases and fencing.
        .target(
            name: "PyBackgroundPostgres",
            dependencies: [
                "PyBackground",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]),

        // The daemon: core + protocol + persistence (SQLite, or PostgreSQL shared by several hosts)
        // + registry + config + NIO control server + lifecycle
        // (and the client, to tell a live daemon's socket from a stale file); its HTTP listener
        // (Hummingbird) serves Prometheus metrics (swift-metrics + swift-prometheus) and the dashboard.
        .target(
            name: "PyBackgroundDaemon",
            dependencies: [
                "PyBackground", "PyBackgroundProtocol", "PyBackgroundClient", "PyBackgroundState", "PyBackgroundPostgres", "CSystemd",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]),

        // A blocking line client over the Unix socket, for pybgctl and the tests: no NIO, starts fast.
        .target(name: "PyBackgroundClient", dependencies: ["PyBackgroundProtocol"]),

        .executableTarget(
            name: "pybgd",
            dependencies: [
                "PyBackgroundDaemon", "PyBackgroundPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),

        // Runs each command task in a process group of its own and takes the group down when the
        // task is stopped or pybgd dies: a small C program, started once per command task.
        // Linked static: SwiftPM links a C executable with the Swift driver, which adds the Swift
        // runtime and libstdc++; loading them made each command task's start 2.5x slower (a static
        // link starts as fast as the same C built by gcc -static: BENCHMARKS.md). The link warns
        // about dlopen in the static Swift runtime; this program never calls it.
        .executableTarget(name: "pybgd-exec", linkerSettings: [.unsafeFlags(["-static-executable"])]),

        // The client: only the protocol and the blocking socket client, so that it starts fast.
        .executableTarget(
            name: "pybgctl",
            dependencies: [
                "PyBackgroundClient", "PyBackgroundProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // What the tests share, as HummingbirdTesting is for Hummingbird: the real pybgd on a
        // temporary socket (DaemonHarness), a Daemon in the test's process with a gate task
        // (InProcessDaemon), log capture, counters and gates, the seeded generator, socket binding.
        .target(
            name: "PyBackgroundTesting",
            dependencies: [
                "PyBackground", "PyBackgroundDaemon", "PyBackgroundProtocol", "PyBackgroundClient",
                .product(name: "Logging", package: "swift-log"),
            ]),

        .testTarget(name: "PyBackgroundTests", dependencies: ["PyBackground", "PyBackgroundTesting"]),
        .testTarget(name: "PyBackgroundProtocolTests", dependencies: ["PyBackgroundProtocol", "PyBackgroundTesting"]),
        .testTarget(name: "pybgctlTests", dependencies: ["pybgctl"]),
        // GRDB too: a test writes a file as an earlier schema left it.
        .testTarget(
            name: "PyBackgroundStateTests",
            dependencies: ["PyBackgroundState", "PyBackground", "PyBackgroundTesting", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(
            name: "PyBackgroundPostgresTests",
            dependencies: [
                "PyBackgroundPostgres", "PyBackgroundTesting", "PyBackgroundProtocol",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "PyBackgroundDaemonTests",
            dependencies: [
                "PyBackgroundDaemon", "PyBackgroundProtocol", "PyBackgroundClient", "PyBackground", "PyBackgroundTesting", "PyBackgroundPostgres",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)
