import Foundation

/// SplitMix64: a small deterministic generator, so a failing randomized test can be replayed from its seed.
///
/// Unit tests start it from a fixed seed; the long randomized end-to-end tests use ``announced(_:)`` or
/// ``fromEnvironment(test:)``, which print the seed they drew and take it back from the environment.
public struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    /// The seed this generator started from.
    public let seed: UInt64

    /// A generator that starts from `seed`: the same seed gives the same numbers.
    public init(seed: UInt64) {
        self.seed = seed
        self.state = seed
    }

    /// A generator seeded from `$LOGFERRY_TEST_SEED` when set, else at random; the seed is printed with `label`.
    public static func announced(_ label: String) -> SeededGenerator {
        let seed = ProcessInfo.processInfo.environment["LOGFERRY_TEST_SEED"].flatMap { UInt64($0) }
            ?? UInt64.random(in: 0...UInt64.max)
        print("\(label): seed \(seed) (replay with LOGFERRY_TEST_SEED=\(seed))")
        return SeededGenerator(seed: seed)
    }

    /// The same, for the ferry chaos tests (seeded from `$LOGFERRY_CHAOS_SEED`).
    public static func fromEnvironment(test: String) -> SeededGenerator {
        let seed = ProcessInfo.processInfo.environment["LOGFERRY_CHAOS_SEED"].flatMap { UInt64($0) }
            ?? UInt64.random(in: 1...UInt64.max)
        print("\(test): chaos seed \(seed) (replay with LOGFERRY_CHAOS_SEED=\(seed))")
        return SeededGenerator(seed: seed)
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
