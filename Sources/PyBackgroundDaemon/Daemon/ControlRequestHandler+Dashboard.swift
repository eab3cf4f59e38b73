import PyBackground
import PyBackgroundProtocol

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What the dashboard reads, as the protocol's payloads: the same JSON a client gets from
/// STATUS, FUTURES and SCHEDULE LIST, a page at a time.
extension ControlRequestHandler {
    /// STATUS's payload.
    var statusJSON: String { ProtocolJSON.encode(status()) }

    /// `{"futures":[…],"total":N,"offset":N}`: the futures newest first, `limit` from `offset`,
    /// of the states given (none: all). A page of the newest costs its size, whatever the tables hold.
    func futuresPage(offset: Int, limit: Int, states: Set<String>) -> String {
        let table = scheduler.futures
        let now = Date()
        var page: [FuturePayload] = []
        var matched = 0
        if states.isEmpty {
            let newest = table.recent(offset + limit).reversed().dropFirst(offset)
            page = newest.map { FuturePayload($0.value, now: now) }
            matched = table.count
        } else {
            for (_, future) in table.reversed() where states.contains(future.state.rawValue) {
                if matched >= offset && page.count < limit { page.append(FuturePayload(future, now: now)) }
                matched += 1
            }
        }
        let futures = ProtocolJSON.encodeArray(page)
        return #"{"futures":\#(futures),"offset":\#(offset),"total":\#(matched)}"#
    }

    /// The same page of a store several hosts share: the cluster's tasks, each with its host.
    func clusterFuturesPage(offset: Int, limit: Int, states: Set<String>) async -> Result<String, ProtocolError> {
        await launcher.persistence.clusterPage(offset: offset, limit: limit, states: states).map { table in
            #"{"futures":\#(ProtocolJSON.encodeArray(table.futures)),"offset":\#(offset),"total":\#(table.total)}"#
        }
    }

    /// SCHEDULE LIST's payload.
    var schedulesJSON: String { ProtocolJSON.encode(SchedulesPayload(schedules: schedules.all)) }

    /// A task's kept output of one stream, as text (bytes that are not UTF-8 shown as U+FFFD) with
    /// the dropped middle marked; nil for an unknown id.
    func outputText(_ id: String, stream: StandardStream, maxBytes: Int = 1 << 20) -> String? {
        guard case .success(let future) = resolve(id) else { return nil }
        var bytes: [UInt8] = []
        var position = 0
        reading: while bytes.count < maxBytes {
            switch launcher.outputs.read(future.id, stream, from: position, count: OutputFollow.pieceBytes) {
            case .none: break reading
            case .dropped(let count):
                bytes += OutputChunkPayload.droppedLine(count, endsLine: false)
                position += count
            case .bytes(let piece):
                bytes += piece
                position += piece.count
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The same text of a task of a store several hosts share, as the database keeps its output
    /// (a task another host runs or ran); nil for an id the store does not know.
    func sharedOutputText(_ id: String, stream: StandardStream, maxBytes: Int = 1 << 20) async -> String? {
        let persistence = launcher.persistence
        let found: FuturePayload?? = await withCheckedContinuation { continuation in
            persistence.lookUp(id) { result in continuation.resume(returning: try? result.get()) }
        }
        guard let payload = found ?? nil, let taskID = TaskID(payload.id) else { return nil }
        let output: SharedOutput? = await withCheckedContinuation { continuation in
            persistence.sharedOutput(taskID, from: [:]) { result in continuation.resume(returning: try? result.get()) }
        }
        var bytes: [UInt8] = []
        for piece in output?.unread(stream, from: 0) ?? [] where bytes.count < maxBytes {
            switch piece {
            case .dropped(let count): bytes += OutputChunkPayload.droppedLine(count, endsLine: false)
            case .bytes(let piece): bytes += piece
            case .none: break
            }
        }
        return String(decoding: bytes.prefix(maxBytes), as: UTF8.self)
    }
}
