import Synchronization

/// The start-up steps a node waits for before it tells the service manager it is ready (`READY=1`): the ferry
/// listener bound, the syslog listeners bound, the journal opened and positioned.
///
/// Each step is named up front and reported once by the stage that performs it, so `READY=1` never goes out
/// before a peer can connect: a unit ordered `After=` this one finds it listening.
public final class NodeReadiness: Sendable {
    private struct State {
        var pending: Set<String>
        var done: [String] = []
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
    }

    private let state: Mutex<State>

    /// Readiness that waits for every step in `steps` (none: ready at once).
    public init(waitingFor steps: some Sequence<String>) {
        state = Mutex(State(pending: Set(steps)))
    }

    /// Reports a step done; `detail` (e.g. `listening on 0.0.0.0:7514`) goes into the status line.
    /// Unknown or repeated steps are ignored.
    public func started(_ step: String, detail: String? = nil) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard state.pending.remove(step) != nil else { return [] }
            state.done.append(detail ?? step)
            guard state.pending.isEmpty else { return [] }
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// The steps still awaited.
    public var pendingSteps: [String] {
        state.withLock { $0.pending.sorted() }
    }

    /// What the node reported as it became ready, in order (the details given to ``started(_:detail:)``).
    public var summary: String {
        state.withLock { $0.done.joined(separator: "; ") }
    }

    /// Returns once every step is done, or when the task is cancelled (check ``pendingSteps`` then).
    public func waitUntilReady() async {
        let id = state.withLock { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.pending.isEmpty || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }
}
