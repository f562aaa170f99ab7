import RegistryCore
import Testing

struct CalendarDayTests {
    @Test(arguments: [
        "2024-02-29", "2000-02-29", "2023-02-28", "2031-01-31", "2031-04-30", "0001-01-01", "9999-12-31", "1970-01-01",
    ])
    func acceptsRealDates(text: String) throws {
        let day = try #require(CalendarDay(text))
        #expect(day.description == text)
    }

    @Test func parsesComponents() throws {
        let day = try #require(CalendarDay("2025-03-07"))
        #expect(day.year == 2025)
        #expect(day.month == 3)
        #expect(day.day == 7)
    }

    @Test(arguments: [
        "2031-02-30", "2023-02-29", "1900-02-29", "2100-02-29", "2031-04-31", "2031-06-31", "2031-09-31", "2031-11-31",
        "2031-01-32", "2031-13-01", "2031-00-10", "2031-01-00", "0000-01-01",
    ])
    func rejectsDatesThatDoNotExist(text: String) {
        #expect(CalendarDay(text) == nil)
    }

    @Test(arguments: [
        "", "2031", "2031-1-01", "2031-01-1", "31-01-2031", "2031/01/01", "2031-01-01T00:00", " 2031-01-01",
        "2031-01-01 ", "20310101", "2031-0a-01", "+031-01-01", "-031-01-01", "2031-+1-01", "2031-01--1", "２０３１-01-01",
        "2031_01_01", "12031-01-01",
    ])
    func rejectsBadShapes(text: String) {
        #expect(CalendarDay(text) == nil)
    }

    @Test(arguments: [(2024, true), (2023, false), (2000, true), (1900, false), (2100, false), (2400, true), (4, true)])
    func leapYears(year: Int, leap: Bool) {
        #expect(CalendarDay.daysIn(month: 2, year: year) == (leap ? 29 : 28))
    }

    @Test func daysInEachMonth() {
        let expected = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        for month in 1...12 { #expect(CalendarDay.daysIn(month: month, year: 2031) == expected[month - 1]) }
    }

    @Test func knownEpochOffsets() throws {
        #expect(try #require(CalendarDay("1970-01-01")).daysSinceEpoch == 0)
        #expect(try #require(CalendarDay("1970-01-02")).daysSinceEpoch == 1)
        #expect(try #require(CalendarDay("1969-12-31")).daysSinceEpoch == -1)
        #expect(try #require(CalendarDay("2000-03-01")).daysSinceEpoch == 11_017)
        #expect(try #require(CalendarDay("2026-01-01")).daysSinceEpoch == 20_454)
        #expect(try #require(CalendarDay("0001-01-01")).daysSinceEpoch == -719_162)
        #expect(try #require(CalendarDay("9999-12-31")).daysSinceEpoch == 2_932_896)
        #expect(CalendarDay(daysSinceEpoch: 0).description == "1970-01-01")
        #expect(CalendarDay(daysSinceEpoch: -1).description == "1969-12-31")
    }

    /// Walks every day from 0001-01-01 to 9999-12-31 and checks both conversions and the text form.
    @Test func daysSinceEpochMatchesADayByDayWalk() throws {
        var (y, m, d) = (1, 1, 1)
        var n = try #require(CalendarDay("0001-01-01")).daysSinceEpoch
        var failures = 0
        while y <= 9999 {
            let fromDays = CalendarDay(daysSinceEpoch: n)
            if fromDays.year != y || fromDays.month != m || fromDays.day != d || fromDays.daysSinceEpoch != n {
                failures += 1
                if failures <= 5 { Issue.record("day \(n): got \(fromDays), expected \(y)-\(m)-\(d)") }
            }
            // Spot-check the text round trip on the first of each month to keep the walk quick.
            if d == 1 {
                let text = fromDays.description
                if CalendarDay(text) != fromDays {
                    failures += 1
                    if failures <= 5 { Issue.record("\(text) does not round-trip") }
                }
            }
            n += 1
            d += 1
            if d > CalendarDay.daysIn(month: m, year: y) {
                d = 1
                m += 1
                if m > 12 {
                    m = 1
                    y += 1
                }
            }
        }
        #expect(failures == 0)
        let last = try #require(CalendarDay("9999-12-31"))
        #expect(n == last.daysSinceEpoch + 1)
    }

    @Test func addingAndDaysTo() throws {
        let a = try #require(CalendarDay("2024-02-28"))
        #expect(a.adding(days: 1).description == "2024-02-29")
        #expect(a.adding(days: 2).description == "2024-03-01")
        #expect(a.adding(days: -59).description == "2023-12-31")
        #expect(a.adding(days: 0) == a)
        let b = try #require(CalendarDay("2025-02-28"))
        #expect(a.days(to: b) == 366)
        #expect(b.days(to: a) == -366)
        #expect(a.days(to: a) == 0)
        let c = try #require(CalendarDay("2023-02-28"))
        #expect(c.days(to: a) == 365)
        for k in [-1000, -31, -1, 0, 1, 30, 31, 10_000] { #expect(a.days(to: a.adding(days: k)) == k) }
    }

    @Test func ordering() throws {
        let texts = [
            "2024-12-31", "2024-01-01", "2023-12-31", "2024-02-29", "2024-02-01", "2025-01-01", "2024-10-02",
            "2024-09-30",
        ]
        let days = try texts.map { try #require(CalendarDay($0)) }
        let sorted = days.sorted()
        #expect(sorted.map(\.description) == texts.sorted())
        #expect(zip(sorted, sorted.dropFirst()).allSatisfy { $0.daysSinceEpoch < $1.daysSinceEpoch })
        let x = try #require(CalendarDay("2024-03-01"))
        let y = try #require(CalendarDay("2024-02-29"))
        #expect(y < x)
        #expect(!(x < y))
        #expect(!(x < x))
        #expect(x > y)
        #expect(x == CalendarDay("2024-03-01"))
        #expect(Set([x, y, CalendarDay("2024-03-01")!]).count == 2)
    }
}

struct ClockTests {
    @Test func timestampFormatting() {
        #expect(Clock.timestamp(millis: 0) == "1970-01-01T00:00:00.000Z")
        #expect(Clock.timestamp(millis: 1) == "1970-01-01T00:00:00.001Z")
        #expect(Clock.timestamp(millis: 86_399_999) == "1970-01-01T23:59:59.999Z")
        #expect(Clock.timestamp(millis: 86_400_000) == "1970-01-02T00:00:00.000Z")
        // 2026-11-26T20:15:03.123Z
        #expect(Clock.timestamp(millis: 1_795_724_103_123) == "2026-11-26T20:15:03.123Z")
        #expect(Clock.timestamp(millis: 951_782_400_000) == "2000-02-29T00:00:00.000Z")
    }

    @Test func nowIsPlausibleAndTimestampSortsWithIt() {
        let a = Clock.nowMillis()
        let b = Clock.nowMillis()
        #expect(a <= b)
        #expect(a > 1_700_000_000_000)  // after 2023-11
        #expect(Clock.timestamp(millis: a) <= Clock.timestamp(millis: b))
        #expect(Clock.timestamp(millis: a).count == 24)
    }

    @Test func todayIsWithinADayOfUTC() {
        let today = Clock.today()
        let utc = CalendarDay(daysSinceEpoch: Int(Clock.nowMillis() / 86_400_000))
        #expect(abs(today.days(to: utc)) <= 1)
        #expect(CalendarDay(today.description) == today)
    }
}
