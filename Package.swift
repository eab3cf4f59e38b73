// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "pybgd",
    products: [
        .library(name: "PyBackground", targets: ["PyBackground"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // The scheduler core: standard library, Dispatch and FoundationEssentials only.
        .target(name: "PyBackground"),

        // Benchmarks (scripts/bench) and their C helper for heap statistics.
        .target(name: "CHeapUsage"),
        .executableTarget(
            name: "PyBackgroundBenchmarks",
            dependencies: [
                "PyBackground", "CHeapUsage",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .testTarget(name: "PyBackgroundTests", dependencies: ["PyBackground"]),
    ],
    swiftLanguageModes: [.v6]
)
