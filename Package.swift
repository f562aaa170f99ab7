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
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1", traits: []),
        .package(url: "https://github.com/vapor/postgres-nio", exact: "1.33.2"),
        // Already a dependency of postgres-nio; RegistryCore takes SHA-256 from it (BoringSSL,
        // compiled in) instead of linking the system's libcrypto into every command.
        .package(url: "https://github.com/apple/swift-crypto", exact: "4.5.2"),
    ],
    targets: [
        .target(
            name: "RegistryCore", dependencies: [.product(name: "Crypto", package: "swift-crypto")], swiftSettings: strict),
        .target(
            name: "RegistryStore",
            dependencies: [
                "RegistryCore", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"), "CSQLite",
            ],
            swiftSettings: strict),
        .target(
            name: "RegistryReports",
            dependencies: ["RegistryCore", "RegistryStore"],
            swiftSettings: strict),
        // libcurl's headers (libcurl4-openssl-dev, scripts/setup); the library is loaded with dlopen
        // on first use (Sources/CCurl/include/emreg_curl.h says why).
        .target(name: "CCurl"),
        // sqlite3_config, variadic in C, behind a function Swift can call (the system SQLite,
        // libsqlite3-dev, as GRDB uses).
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // Whole bodies are compressed and inflated with libdeflate; zlib makes the pieces of feed
        // pages, which libdeflate cannot end without ending the stream (Sources/RegistrySync/Gzip.swift).
        .systemLibrary(name: "CDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),
        .target(
            name: "RegistrySync",
            dependencies: [
                "RegistryCore", "RegistryStore", "CCurl", "CZlib", "CDeflate",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(
            name: "RegistryHub",
            dependencies: [
                "RegistryCore", "RegistryStore", "RegistrySync", "CZlib", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "emreg",
            dependencies: [
                "RegistryCore", "RegistryStore", "RegistryReports", "RegistrySync", "RegistryHub",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict,
            // lld, with packed relative relocations (DT_RELR, glibc >= 2.36): the dynamic loader
            // applies the binary's ~133,000 relative relocations from a 26 KB bitmap instead of a
            // 3.2 MB table — part of every command's start-up. lld also links in a fraction of
            // gold's time.
            linkerSettings: [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic"])]),
        .executableTarget(
            name: "emreg-bench", dependencies: ["RegistryCore", "RegistryStore", "RegistryReports", "RegistrySync"], path: "Sources/emreg-bench",
            swiftSettings: strict),
        .testTarget(name: "RegistryCoreTests", dependencies: ["RegistryCore"], swiftSettings: strict),
        .testTarget(
            name: "RegistryStoreTests", dependencies: ["RegistryStore", "RegistryCore"], swiftSettings: strict),
        .testTarget(
            name: "RegistryReportsTests", dependencies: ["RegistryReports", "RegistryStore", "RegistryCore"],
            swiftSettings: strict),
        .testTarget(
            name: "RegistrySyncTests", dependencies: ["RegistrySync", "RegistryStore", "RegistryCore"],
            exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(
            name: "RegistryHubTests",
            dependencies: [
                "RegistryHub", "RegistrySync", "RegistryCore", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"), .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: strict),
        .testTarget(name: "EndToEndTests", swiftSettings: strict),
    ]
)
