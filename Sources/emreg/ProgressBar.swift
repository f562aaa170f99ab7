#if canImport(Glibc)
    import Glibc
#endif

/// A progress bar on stderr, drawn only when stderr is a terminal, redrawn at most ~10×/s.
struct ProgressBar {
    let label: String
    let total: Int
    let enabled = isatty(2) == 1
    private var done = 0
    private var lastDraw: UInt64 = 0

    init(_ label: String, total: Int) {
        self.label = label
        self.total = total
    }

    mutating func advance(by n: Int = 1) {
        done += n
        guard enabled else { return }
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let now = UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
        if now - lastDraw >= 100 || done == total {
            lastDraw = now
            draw()
        }
    }

    private func draw() {
        let width = 30
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 0
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        FileOutput.standardError.write("\r\(label) [\(bar)] \(done)/\(total) \(Int(fraction * 100))%")
    }

    /// Ends the line the bar was drawn on.
    func finish() {
        if enabled { FileOutput.standardError.write("\n") }
    }
}
