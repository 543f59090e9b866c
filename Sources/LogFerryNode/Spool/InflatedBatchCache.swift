import LogFerryWire
import Synchronization

/// Batch bodies a listener inflated to check them, handed to the node's file sink by spool sequence, so a
/// receiver inflates each batch once.
///
/// Bounded by bytes: when the sink falls behind, the oldest bodies are dropped and the sink inflates those
/// records itself, as it does after a restart. Nothing here is needed for correctness; it only saves work.
public final class InflatedBatchCache: Sendable {
    private struct State {
        var bodies: [UInt64: InflatedBatch] = [:]
        var order: [UInt64] = []
        var head = 0
        var bytes = 0
    }

    private let state = Mutex(State())
    /// The most body bytes held at once.
    public let capacity: Int

    /// Creates a cache holding at most `capacity` bytes of bodies.
    public init(capacity: Int = 32 << 20) {
        self.capacity = capacity
    }

    /// Keeps the body of the record stored under `sequence`; the oldest bodies make room.
    public func put(_ inflated: InflatedBatch, sequence: UInt64) {
        guard inflated.body.count <= capacity else { return }
        state.withLock { state in
            while state.bytes + inflated.body.count > capacity, state.head < state.order.count {
                let oldest = state.order[state.head]
                state.head += 1
                if let dropped = state.bodies.removeValue(forKey: oldest) { state.bytes -= dropped.body.count }
            }
            if state.head > 1024, state.head * 2 > state.order.count {
                state.order.removeFirst(state.head)
                state.head = 0
            }
            state.bodies[sequence] = inflated
            state.order.append(sequence)
            state.bytes += inflated.body.count
        }
    }

    /// Takes the body of the record under `sequence`, if it is still here.
    public func take(_ sequence: UInt64) -> InflatedBatch? {
        state.withLock { state in
            guard let found = state.bodies.removeValue(forKey: sequence) else { return nil }
            state.bytes -= found.body.count
            return found
        }
    }

    /// The body bytes held now.
    var heldBytes: Int { state.withLock { $0.bytes } }
}
