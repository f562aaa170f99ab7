import ArgumentParser
import RegistryCore
import RegistryReports
import RegistryStore

/// Exit statuses (sysexits.h where one fits) and one-line messages for every failure.
enum Failure {
    static let usage: Int32 = 64
    static let invalidData: Int32 = 65
    static let noRegistry: Int32 = 66
    static let cannotCreate: Int32 = 73
    static let ioError: Int32 = 74
    static let auditFailed: Int32 = 1

    static func describe(_ error: any Error, fallback: String, code: Int32) -> (String, Int32) {
        switch error {
        case let e as FieldError: return (flagged(e), invalidData)
        case let e as StoreError:
            switch e {
            case .invalid(let f): return (flagged(f), invalidData)
            case .notFound(_, _, let field?):
                return (e.description.replacingPrefix(field + ":", with: Flags.name(for: field) + ":"), invalidData)
            case .notFound, .deleted: return (e.description, invalidData)
            case .noRegistry: return (e.description, noRegistry)
            case .registryExists: return (e.description, cannotCreate)
            case .tampered: return (e.description, auditFailed)
            case .database: return (e.description, ioError)
            }
        case let e as CLIError: return (e.message, e.status)
        case let e as ReportError:
            switch e {
            case .cannotWrite, .cannotRead: return (e.description, ioError)
            case .invalidImport, .invalidOption: return (e.description, invalidData)
            }
        default:
            let line = fallback.split(separator: "\n").first.map(String.init) ?? fallback
            return (line + " (see --help)", code == 0 ? 1 : code)
        }
    }

    static func flagged(_ e: FieldError) -> String {
        "\(Flags.name(for: e.field)): \(e.problem)" + (e.accepted.map { "; accepted: \($0)" } ?? "")
    }
}

/// A failure of the command line itself, with its exit status.
struct CLIError: Error {
    var message: String
    var status: Int32 = Failure.usage
}

/// The command-line flag for each interchange field, so errors name what the user typed.
enum Flags {
    static let special: [String: String] = [
        "diagnosedOn": "--diagnosed", "detectedOn": "--detected", "performedOn": "--date", "on": "--date",
        "caseId": "--case", "patientId": "--patient", "siteId": "--site", "EMREG_HUB_TOKEN": "EMREG_HUB_TOKEN",
        "EMREG_SYNC_PAGE_SIZE": "EMREG_SYNC_PAGE_SIZE", "EMREG_SYNC_BATCH_SIZE": "EMREG_SYNC_BATCH_SIZE",
    ]

    static func name(for field: String) -> String {
        if let s = special[field] { return s }
        var out = "--"
        for c in field {
            if c.isUppercase {
                out += "-" + c.lowercased()
            } else {
                out.append(c)
            }
        }
        return out
    }
}

extension String {
    func replacingPrefix(_ prefix: String, with replacement: String) -> String {
        hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
    }
}
