/// The value of `--replay-since`: an absolute time, or a duration before the node's start.
struct ReplaySince: Sendable, Equatable {
    /// The text as given, which is what the spool records so the same request is not carried out twice.
    var text: String
    var ago: Duration?
    var instant: Double?

    init(text: String, ago: Duration) {
        self.text = text
        self.ago = ago
    }

    init(text: String, instant: Double) {
        self.text = text
        self.instant = instant
    }

    /// The time, in seconds since the epoch, replay starts from.
    func instant(now: Double) -> Double {
        if let instant { return instant }
        let seconds = Double(ago?.components.seconds ?? 0) + Double(ago?.components.attoseconds ?? 0) / 1e18
        return now - seconds
    }
}
