/// The sink's acknowledged position, for progress lines and `--exit-when-drained`.
actor FerrySinkProgress {
    private(set) var acknowledged: UInt64 = 0
    private var waiters: [(UInt64, CheckedContinuation<Void, Never>)] = []

    func advance(to sequence: UInt64) {
        guard sequence > acknowledged else { return }
        acknowledged = sequence
        waiters.removeAll { target, continuation in
            if target <= sequence { continuation.resume(); return true }
            return false
        }
    }

    private var splitHints: [UInt64: Int] = [:]

    /// At least how many parts batch `sequence` must be cut into (1 unless a receiver refused it as too large).
    func minimumParts(for sequence: UInt64) -> Int {
        splitHints[sequence] ?? 1
    }

    /// Doubles the parts for batch `sequence` after a too-large refusal.
    func requireMoreParts(for sequence: UInt64) {
        splitHints[sequence] = max(2, (splitHints[sequence] ?? 1) * 2)
        splitHints = splitHints.filter { $0.key >= acknowledged }
    }

    func waitUntil(_ sequence: UInt64) async {
        if acknowledged >= sequence { return }
        await withCheckedContinuation { waiters.append((sequence, $0)) }
    }
}
