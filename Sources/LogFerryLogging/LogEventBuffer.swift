import Foundation
import LogFerryWire

/// The bounded in-memory queue between log calls and the one drain task: a log call only appends under a lock
/// (or, when full, follows the ``BufferOverflowPolicy``); it never touches the disk or the network.
///
/// Drops are counted here; the drain task reports them (metrics and a rate-limited warning) so the log call
/// itself stays cheap.
final class LogEventBuffer: @unchecked Sendable {
    /// How many events it holds at most.
    let capacity: Int
    /// What a log call does when it is full.
    let policy: BufferOverflowPolicy

    private let condition = NSCondition()
    // Guarded by `condition`: a ring of `capacity` slots.
    private var ring: [Event?]
    private var head = 0
    private var count = 0
    private var closed = false
    private var droppedTotal: UInt64 = 0
    private var droppedReported: UInt64 = 0
    private var droppedAfterClose: UInt64 = 0
    private var droppedAfterCloseReported: UInt64 = 0
    private var waiter: CheckedContinuation<Void, Never>?
    /// A ``wake()`` came while nobody waited: the next ``waitForEvents()`` returns at once.
    private var wakePending = false

    /// Makes an empty buffer of `capacity` events (at least 1).
    init(capacity: Int, policy: BufferOverflowPolicy) {
        self.capacity = max(1, capacity)
        self.policy = policy
        self.ring = Array(repeating: nil, count: self.capacity)
    }

    /// Appends `event`, following the policy when full. Returns false when the event was dropped (the buffer is
    /// full under `drop-newest`, or closed).
    @discardableResult
    func offer(_ event: Event) -> Bool {
        condition.lock()
        if policy == .block {
            while count == capacity, !closed { condition.wait() }
        }
        if closed {
            droppedTotal += 1
            droppedAfterClose += 1
            condition.unlock()
            return false
        }
        var accepted = true
        if count == capacity {
            droppedTotal += 1
            if policy == .dropOldest {
                ring[head] = nil
                head = (head + 1) % capacity
                count -= 1
            } else {
                accepted = false
            }
        }
        if accepted {
            ring[(head + count) % capacity] = event
            count += 1
        }
        let wake = waiter
        waiter = nil
        condition.unlock()
        wake?.resume()
        return accepted
    }

    /// Takes up to `limit` events, oldest first, without waiting.
    func take(limit: Int) -> [Event] {
        condition.lock()
        let n = min(limit, count)
        var events: [Event] = []
        events.reserveCapacity(n)
        for _ in 0..<n {
            if let event = ring[head] { events.append(event) }
            ring[head] = nil
            head = (head + 1) % capacity
        }
        count -= n
        if n > 0, policy == .block { condition.broadcast() }
        condition.unlock()
        return events
    }

    /// Waits until at least one event is buffered, the buffer is closed or woken with ``wake()``, or the task is
    /// cancelled.
    func waitForEvents() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                condition.lock()
                if count > 0 || closed || wakePending || Task.isCancelled {
                    wakePending = false
                    condition.unlock()
                    continuation.resume()
                    return
                }
                let previous = waiter
                waiter = continuation
                condition.unlock()
                previous?.resume()
            }
        } onCancel: {
            wake()
        }
    }

    /// Resumes a waiting ``waitForEvents()`` (shutdown, cancellation).
    func wake() {
        condition.lock()
        let wake = waiter
        waiter = nil
        if wake == nil { wakePending = true }
        condition.unlock()
        wake?.resume()
    }

    /// Stops taking events: later offers are dropped and counted, and blocked log calls return.
    func close() {
        condition.lock()
        closed = true
        let wake = waiter
        waiter = nil
        condition.broadcast()
        condition.unlock()
        wake?.resume()
    }

    /// Whether ``close()`` was called.
    var isClosed: Bool {
        condition.lock()
        defer { condition.unlock() }
        return closed
    }

    /// How many events are buffered now.
    var bufferedCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return count
    }

    /// Every event dropped since the buffer was made.
    var dropped: UInt64 {
        condition.lock()
        defer { condition.unlock() }
        return droppedTotal
    }

    /// The drops since the previous call (for the metric and the warning): all of them, and of those the ones
    /// logged after ``close()``.
    func takeNewDrops() -> (all: UInt64, afterClose: UInt64) {
        condition.lock()
        defer { condition.unlock() }
        let new = (droppedTotal - droppedReported, droppedAfterClose - droppedAfterCloseReported)
        droppedReported = droppedTotal
        droppedAfterCloseReported = droppedAfterClose
        return new
    }
}
