extension RandomNumberGenerator {
    /// `count` random bytes (each of 0...255), for payloads and corrupted input.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &self) }
    }
}
