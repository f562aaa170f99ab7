import RegistryCore
import Testing

struct SHA256Tests {
    /// FIPS 180-4 example messages (NIST CAVP / "SHA-2 examples").
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
        (
            "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
        ),
    ])
    func nistVectors(message: String, digest: String) {
        #expect(SHA256.hex(message) == digest)
        #expect(Hex.encode(SHA256.hash(Array(message.utf8))) == digest)
    }

    @Test func oneMillionA() {
        var h = SHA256()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { h.update(chunk) }
        #expect(Hex.encode(h.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Lengths around the 55/56/64-byte padding boundaries (reference digests from coreutils sha256sum).
    @Test(arguments: [
        (55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
        (56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"),
        (57, "f13b2d724659eb3bf47f2dd6af1accc87b81f09f59f2b75e5c0bed6589dfe8c6"),
        (63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"),
        (64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
        (65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"),
        (119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"),
        (120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"),
        (128, "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e"),
    ])
    func paddingBoundaries(length: Int, digest: String) {
        #expect(SHA256.hex(String(repeating: "a", count: length)) == digest)
    }

    /// Feeding a message in pieces gives the same digest as feeding it at once.
    @Test func incrementalUpdatesMatchOneShot() {
        let message = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        for length in [0, 1, 55, 56, 63, 64, 65, 127, 128, 129, 300] {
            let bytes = Array(message[0..<length])
            let expected = SHA256.hash(bytes)
            for split in Set([0, 1, length / 3, length / 2, max(0, length - 1), length]) where split <= length {
                var h = SHA256()
                h.update(bytes[0..<split])
                h.update(bytes[split..<length])
                #expect(h.finalize() == expected, "length \(length) split \(split)")
            }
        }
    }

    @Test func textUpdateHashesUTF8() {
        var h = SHA256()
        h.update("Plasmozytom é ✓")
        #expect(h.finalize() == SHA256.hash(Array("Plasmozytom é ✓".utf8)))
        #expect(SHA256.hash([0xC3, 0xA9]) == SHA256.hash(Array("é".utf8)))
    }

    /// RFC 4231 test cases 1–4, 6 and 7 (5 is a truncated output).
    @Test(arguments: [
        (
            [UInt8](repeating: 0x0b, count: 20), Array("Hi There".utf8),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        ),
        (
            Array("Jefe".utf8), Array("what do ya want for nothing?".utf8),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        ),
        (
            [UInt8](repeating: 0xaa, count: 20), [UInt8](repeating: 0xdd, count: 50),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"
        ),
        (
            (1...25).map { UInt8($0) }, [UInt8](repeating: 0xcd, count: 50),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"
        ),
        (
            [UInt8](repeating: 0xaa, count: 131), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        ),
        (
            [UInt8](repeating: 0xaa, count: 131),
            Array(
                "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm."
                    .utf8),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
        ),
        // A key of exactly one block is used as is, not hashed (reference from Python's hmac).
        (
            [UInt8](repeating: UInt8(ascii: "k"), count: 64), Array("exactly one block key".utf8),
            "e73e6474ed2f863bbf5500617c3b577e141d3c1543e1563f3630b762d038f14c"
        ),
    ])
    func hmacRFC4231(key: [UInt8], message: [UInt8], mac: String) {
        #expect(Hex.encode(SHA256.hmac(key: key, message: message)) == mac)
    }

    @Test func hmacDependsOnKeyAndMessage() {
        let a = SHA256.hmac(key: Array("secret".utf8), message: Array("MRN123".utf8))
        #expect(a.count == 32)
        #expect(a == SHA256.hmac(key: Array("secret".utf8), message: Array("MRN123".utf8)))
        #expect(a != SHA256.hmac(key: Array("secret2".utf8), message: Array("MRN123".utf8)))
        #expect(a != SHA256.hmac(key: Array("secret".utf8), message: Array("MRN124".utf8)))
    }
}

struct HexTests {
    @Test func encodesLowerCase() {
        #expect(Hex.encode([]) == "")
        #expect(Hex.encode([0x00, 0x01, 0x7f, 0x80, 0xab, 0xff]) == "00017f80abff")
    }

    @Test func roundTripsEveryByte() throws {
        let all = (0...255).map { UInt8($0) }
        let text = Hex.encode(all)
        #expect(text.utf8.count == 512)
        #expect(try #require(Hex.decode(text)) == all)
        #expect(try #require(Hex.decode(text.uppercased())) == all)
    }

    @Test func decodesMixedCase() {
        #expect(Hex.decode("DeadBEEF") == [0xde, 0xad, 0xbe, 0xef])
        #expect(Hex.decode("") == [])
    }

    @Test(arguments: ["a", "abc", "0g", "g0", "zz", "0x00", " 00", "00 ", "-1", "+1", "é0", "0:"])
    func rejects(text: String) {
        #expect(Hex.decode(text) == nil)
    }
}
