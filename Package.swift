// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "pybgd",
    products: [
        .library(name: "PyBackground", targets: ["PyBackground"]),
    ],
    targets: [
        // The scheduler core: standard library, Dispatch and FoundationEssentials only.
        .target(name: "PyBackground"),
        .executableTarget(name: "PyBackgroundBenchmarks", dependencies: ["PyBackground"]),
        .testTarget(name: "PyBackgroundTests", dependencies: ["PyBackground"]),
    ],
    swiftLanguageModes: [.v6]
)
