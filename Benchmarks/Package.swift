// swift-tools-version: 6.2
import PackageDescription

// The scheduler-core benchmarks of scripts/bench, in a package of their own (as swift-nio keeps
// its benchmarks): building pybgd's products does not build them.
let package = Package(
    name: "PyBackgroundBenchmarks",
    dependencies: [
        // Named: a path dependency is otherwise known by its directory's name, which differs per clone.
        .package(name: "pybgd", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Heap statistics (mallinfo2) for the memory figures.
        .target(name: "CHeapUsage"),
        .executableTarget(
            name: "PyBackgroundBenchmarks",
            dependencies: [
                .product(name: "PyBackground", package: "pybgd"), "CHeapUsage",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)
