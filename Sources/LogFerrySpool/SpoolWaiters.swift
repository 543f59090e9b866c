/// Continuations of tasks waiting inside the spool actor: readers at the tail and appends blocked on capacity.
///
/// Each waiter has an id so that task cancellation can resume exactly that waiter.
struct SpoolWaiters {
    enum Kind { case reader, capacity }

    private var readers: [Int: CheckedContinuation<Void, Never>] = [:]
    private var capacity: [Int: CheckedContinuation<Void, Never>] = [:]
    private var nextID = 0

    mutating func makeID() -> Int {
        nextID += 1
        return nextID
    }

    mutating func add(_ id: Int, _ kind: Kind, _ continuation: CheckedContinuation<Void, Never>) {
        switch kind {
        case .reader: readers[id] = continuation
        case .capacity: capacity[id] = continuation
        }
    }

    /// Resumes one waiter (after its task was cancelled); nothing when it was resumed already.
    mutating func resume(_ id: Int) {
        if let continuation = readers.removeValue(forKey: id) ?? capacity.removeValue(forKey: id) {
            continuation.resume()
        }
    }

    mutating func resumeReaders() {
        guard !readers.isEmpty else { return }
        let all = readers
        readers.removeAll()
        for continuation in all.values { continuation.resume() }
    }

    mutating func resumeCapacity() {
        guard !capacity.isEmpty else { return }
        let all = capacity
        capacity.removeAll()
        for continuation in all.values { continuation.resume() }
    }
}

extension Spool {
    /// Suspends until woken (by `waiters.resume…`) or until the task is cancelled; never throws.
    func suspend(_ kind: SpoolWaiters.Kind) async {
        let id = waiters.makeID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if Task.isCancelled {
                    continuation.resume()
                } else {
                    waiters.add(id, kind, continuation)
                }
            }
        } onCancel: {
            Task { await self.resumeWaiter(id) }
        }
    }

    func resumeWaiter(_ id: Int) {
        waiters.resume(id)
    }
}
