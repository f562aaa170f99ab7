import RegistryCore

/// Turns registry records into de-identified ones for export: no MRN, name or birth date,
/// ids replaced by stable pseudonyms, and every date of a patient shifted by the same
/// stable secret offset (−182…+182 days, never 0), so intervals — and therefore survival
/// times — are exactly preserved while calendar dates are not disclosed.
///
/// Pseudonyms and offsets are keyed HMACs under a secret derived from the registry's
/// linkage secret: the same registry exports the same pseudonyms every time, and nobody
/// without the secret can map them back.
public struct Deidentifier: Sendable {
    let key: HMACKey

    public init(linkageSecret: [UInt8]) {
        key = HMACKey(SHA256.hmac(key: linkageSecret, message: Array("emreg de-identification v1".utf8)))
    }

    /// A UUID-shaped pseudonym for an id.
    public func pseudonym(_ id: String) -> String {
        var b = Array(key.authenticate(Array(("id:" + id).utf8)).prefix(16))
        b[6] = 0x40 | (b[6] & 0x0F)  // version 4 shape: random-looking, not time-ordered
        b[8] = 0x80 | (b[8] & 0x3F)
        return EntityID.format(b)
    }

    /// The shift, in days, applied to every date of this patient.
    public func dayShift(patientId: String) -> Int {
        let h = key.authenticate(Array(("shift:" + patientId).utf8))
        let n = Int(h[0]) << 8 | Int(h[1])
        let shift = n % 365 - 182
        return shift == 0 ? 183 : shift
    }
}
