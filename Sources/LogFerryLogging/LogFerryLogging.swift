// Reserved by DESIGN.md §4 for a swift-log LogHandler that writes an application's own logs into a spool.
// No issue has asked for it yet; it is deliberately empty rather than a stub that pretends to work.
