import Foundation
import Testing

/// TLS in front of the hub: Config/nginx-hub.conf under a real nginx on 127.0.0.1, with a
/// throwaway CA and server certificate made by openssl. Clinics sync through it with
/// `--ca-file`; a client that trusts another CA (or only the system's) is refused clearly and
/// loses nothing.
@Suite(.serialized) struct TLSTests {
    @Test func clinicsSyncThroughNginxAndAnotherCAIsRefused() throws {
        let root = try EmregProcess()
        defer { root.cleanUp() }
        let hub = try HubProcess(directory: root.directory)
        defer { hub.stop() }
        let pki = try ThrowawayPKI(directory: root.directory + "/pki")
        let nginx = try Nginx(directory: root.directory + "/nginx", hubPort: hub.port, pki: pki)
        defer { nginx.stop() }
        let clinics = try SyncTests.clinics(["A", "B"], hub: hub, root: root)
        defer { clinics.forEach { $0.runner.cleanUp() } }
        let (a, b) = (clinics[0], clinics[1])
        let ids = try a.runner.logLegPlasmacytoma()

        func sync(_ c: SyncTests.Clinic, ca: String?) throws -> EmregProcess.Result {
            var runner = c.runner
            runner.environment["EMREG_SYNC_MAX_ATTEMPTS"] = "2"
            return try runner.run(
                ["sync", "--hub", nginx.url, "--token-file", c.tokenFile] + (ca.map { ["--ca-file", $0] } ?? []))
        }
        func pending(_ c: SyncTests.Clinic) throws -> String {
            try c.runner.ok(["sync", "status", "--json"]).firstMatch(of: /"pendingChanges" : (\d+)/).map {
                String($0.1)
            } ?? "?"
        }
        let before = try pending(a)
        #expect(before == "5", "a patient, a case, a site, a biopsy and a follow-up wait to be pushed")

        // A certificate from a CA the client does not trust: refused at once (no retries),
        // a message that names the certificate, a non-zero exit, nothing sent, nothing lost.
        for ca in [pki.otherCA, nil] {
            let refused = try sync(a, ca: ca)
            #expect(refused.status != 0 && refused.status != 3, "\(refused.status): \(refused.stderr)")
            #expect(refused.stderr.contains("TLS certificate problem"), "\(refused.stderr)")
            #expect(refused.stderr.contains("--ca-file must name the CA"), "\(refused.stderr)")
            #expect(!refused.stderr.contains("attempt 1 of"), "a certificate refusal is not retried: \(refused.stderr)")
            #expect(try pending(a) == before)
        }
        #expect(try SyncFaultTests.sqlite(hub.hubDB, "SELECT count(*) FROM hub_changes") == "0")
        #expect(!nginx.accessLog.contains("/v1/"), "a refused client reached the hub: \(nginx.accessLog)")

        // With the registry's CA: both clinics sync through nginx, and agree.
        for c in [a, b, a] {
            let r = try sync(c, ca: pki.ca)
            #expect(r.status == 0, "\(c.code): \(r.stderr)")
        }
        #expect(try pending(a) == "0")
        #expect(try SyncFaultTests.sqlite(hub.hubDB, "SELECT count(*) FROM hub_changes") == "5")
        let contents = try clinics.map(SyncTests.syncedContent)
        #expect(contents[0].count == 1 && contents[0] == contents[1])
        #expect(try b.runner.ok(["case", "show", ids.clinicalCase]).contains("C90.2"))
        // The requests really went through nginx (its log) and on to the hub (the hub's).
        #expect(nginx.accessLog.contains("POST /v1/batches/") && nginx.accessLog.contains("GET /v1/changes"))
        // Plain HTTP on the example's port 80 server only redirects to https.
        let plain = HubProcess.get(port: nginx.httpPort, path: "/v1/changes?since=0")
        #expect(plain.hasPrefix("HTTP/1.1 308") && plain.contains("Location: https://"), "\(plain.prefix(300))")
    }
}

/// A CA, a server certificate it signed for 127.0.0.1, and an unrelated second CA.
struct ThrowawayPKI {
    let directory: String
    var ca: String { directory + "/ca.pem" }
    var otherCA: String { directory + "/other-ca.pem" }
    var serverCertificate: String { directory + "/server.crt" }
    var serverKey: String { directory + "/server.key" }

    init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for name in ["ca", "other-ca"] {
            try openssl(
                ["req", "-x509"] + ec + [
                    "-keyout", "\(name).key", "-out", "\(name).pem", "-days", "2", "-subj", "/CN=emreg test \(name)",
                    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                ])
        }
        try openssl(["req"] + ec + ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"])
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
            .write(toFile: directory + "/server.ext", atomically: true, encoding: .utf8)
        try openssl([
            "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
            "server.crt", "-days", "2", "-extfile", "server.ext",
        ])
    }

    func openssl(_ arguments: [String]) throws {
        let r = try EmregProcess(in: directory).run(arguments, executable: "/usr/bin/openssl")
        guard r.status == 0 else {
            throw EmregProcess.Failure(message: "openssl \(arguments.prefix(2).joined(separator: " ")): \(r.stderr)")
        }
    }
}

/// nginx (Debian's) in the foreground on loopback ports, running Config/nginx-hub.conf with its
/// names, paths and ports swapped for the test's, under its own prefix, pid and log files.
final class Nginx {
    let directory: String
    let tlsPort: Int
    let httpPort: Int
    let process = Process()
    var url: String { "https://127.0.0.1:\(tlsPort)" }

    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Config/nginx-hub.conf").path

    init(directory: String, hubPort: Int, pki: ThrowawayPKI) throws {
        self.directory = directory
        tlsPort = try HubProcess.freePort()
        httpPort = try HubProcess.freePort()
        for sub in ["", "/tmp", "/logs"] {
            try FileManager.default.createDirectory(atPath: directory + sub, withIntermediateDirectories: true)
        }
        // Workers drop to an unprivileged user when nginx starts as root: let them write temp files.
        chmod(directory + "/tmp", 0o777)
        var site = try String(contentsOfFile: Self.example, encoding: .utf8)
        let swaps = [
            ("listen 443 ssl;", "listen 127.0.0.1:\(tlsPort) ssl;"), ("listen 80;", "listen 127.0.0.1:\(httpPort);"),
            ("server 127.0.0.1:8080;", "server 127.0.0.1:\(hubPort);"),
            ("/etc/ssl/emreg/hub.crt", pki.serverCertificate), ("/etc/ssl/emreg/hub.key", pki.serverKey),
            ("/var/log/nginx/emreg-hub.access.log", directory + "/logs/access.log"),
        ]
        for (from, to) in swaps {
            guard site.contains(from) else {
                throw EmregProcess.Failure(message: "Config/nginx-hub.conf no longer contains `\(from)`")
            }
            site = site.replacingOccurrences(of: from, with: to)
        }
        try site.write(toFile: directory + "/emreg-hub.conf", atomically: true, encoding: .utf8)
        let temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map {
            "  \($0)_temp_path \(directory)/tmp/\($0);"
        }
        let main = """
            daemon off;
            worker_processes 1;
            pid \(directory)/nginx.pid;
            error_log \(directory)/logs/error.log info;
            events { worker_connections 64; }
            http {
            \(temp.joined(separator: "\n"))
              include \(directory)/emreg-hub.conf;
            }

            """
        try main.write(toFile: directory + "/nginx.conf", atomically: true, encoding: .utf8)
        guard let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].first(where: FileManager.default.isExecutableFile)
        else { throw EmregProcess.Failure(message: "nginx is not installed; run scripts/setup") }
        process.executableURL = URL(fileURLWithPath: nginx)
        process.arguments = ["-p", directory, "-c", directory + "/nginx.conf", "-e", directory + "/logs/error.log"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: directory + "/logs/error.log")
        try process.run()
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if HubProcess.get(port: httpPort, path: "/").hasPrefix("HTTP/1.1 308") { return }
            guard process.isRunning else { break }
            usleep(50_000)
        }
        stop()
        throw EmregProcess.Failure(message: "nginx did not start: \(read("logs/error.log"))")
    }

    deinit { stop() }

    /// SIGTERM: nginx's fast shutdown; it exits with its workers.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    var accessLog: String { read("logs/access.log") }

    private func read(_ name: String) -> String {
        FileManager.default.contents(atPath: directory + "/" + name).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }
}

extension EmregProcess {
    /// A runner in an existing directory (not removed by the test).
    init(in directory: String) { self.directory = directory }
}
