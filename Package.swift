// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "emreg",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "emreg", targets: ["emreg"])
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
    ],
    targets: [
        .target(name: "RegistryCore", swiftSettings: strict),
        .target(
            name: "RegistryStore",
            dependencies: [
                "RegistryCore", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: strict),
        .target(
            name: "RegistryReports",
            dependencies: ["RegistryCore", "RegistryStore"],
            swiftSettings: strict),
        .executableTarget(
            name: "emreg",
            dependencies: [
                "RegistryCore", "RegistryStore", "RegistryReports",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "emreg-bench", dependencies: ["RegistryCore", "RegistryStore"], path: "Sources/emreg-bench",
            swiftSettings: strict),
        .testTarget(name: "RegistryCoreTests", dependencies: ["RegistryCore"], swiftSettings: strict),
        .testTarget(
            name: "RegistryStoreTests", dependencies: ["RegistryStore", "RegistryCore"], swiftSettings: strict),
        .testTarget(
            name: "RegistryReportsTests", dependencies: ["RegistryReports", "RegistryStore", "RegistryCore"],
            swiftSettings: strict),
        .testTarget(name: "EndToEndTests", swiftSettings: strict),
    ]
)
