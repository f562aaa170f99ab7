#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Wall-clock readings without Foundation, for ids, clocks and stamps.
public enum Clock {
    public static func nowMillis() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let millis = Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
        return UInt64(max(0, millis &+ offsetMillis))
    }

    /// `EMREG_CLOCK_OFFSET_SECONDS` shifts every wall-clock reading of this process, as a
    /// machine whose clock is wrong would (scripts/faults: a clinic a day ahead). libfaketime
    /// cannot do it: preloaded into a Swift binary, it loses the command line's arguments.
    static let offsetMillis: Int64 = {
        guard let text = getenv("EMREG_CLOCK_OFFSET_SECONDS"), let seconds = Int64(String(cString: text)) else {
            return 0
        }
        return seconds &* 1000
    }()

    /// An ISO 8601 UTC timestamp with milliseconds, e.g. `2026-11-26T20:15:03.123Z`.
    public static func timestamp(millis: UInt64 = nowMillis()) -> String {
        let day = CalendarDay(daysSinceEpoch: Int(millis / 86_400_000))
        let msOfDay = Int(millis % 86_400_000)
        let h = msOfDay / 3_600_000
        let m = msOfDay / 60_000 % 60
        let s = msOfDay / 1000 % 60
        let ms = msOfDay % 1000
        var out = [UInt8]()
        out.reserveCapacity(24)
        day.append(to: &out)
        out.append(UInt8(ascii: "T"))
        DecimalText.append(UInt64(h), width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        DecimalText.append(UInt64(m), width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        DecimalText.append(UInt64(s), width: 2, to: &out)
        out.append(UInt8(ascii: "."))
        DecimalText.append(UInt64(ms), width: 3, to: &out)
        out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Today's date in the machine's local time zone.
    public static func today() -> CalendarDay {
        var t = time_t(Int(nowMillis() / 1000))
        var parts = tm()
        localtime_r(&t, &parts)
        return CalendarDay(
            uncheckedYear: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday))
    }

    static func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
