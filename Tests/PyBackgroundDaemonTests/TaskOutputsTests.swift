import Foundation
import Logging
import PyBackground
import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

@testable import PyBackgroundDaemon

@Suite("Tasks' output: head and tail kept past the limit, in files or memory")
struct TaskOutputsTests {
    @Test(
        "the layout keeps the first half and the last two quarter segments; what it drops is one counted middle",
        arguments: [
            // (limit, total written, first kept tail segment, dropped, kept)
            (1024, 0, 1, 0, 0),
            (1024, 512, 1, 0, 512),
            (1024, 513, 1, 0, 513),
            (1024, 1024, 1, 0, 1024),
            (1024, 1025, 2, 256, 769),
            (1024, 1280, 2, 256, 1024),
            (1024, 1281, 3, 512, 769),
            (1024, 10_000, 37, 9216, 784),
        ])
    func layout(limit: Int, total: Int, firstKept: Int, dropped: Int, kept: Int) {
        let layout = OutputLayout(maxBytes: limit)
        #expect(layout.firstKeptTail(total: total) == firstKept)
        #expect(layout.dropped(total: total) == dropped)
        #expect(layout.kept(total: total) == kept)
        #expect(layout.kept(total: total) <= limit)
    }

    @Test("a segment's start, capacity and the segment of a position agree", arguments: [0, 1, 511, 512, 767, 768, 5000])
    func positions(position: Int) {
        let layout = OutputLayout(maxBytes: 1024)
        let segment = layout.segment(containing: position)
        #expect(layout.start(of: segment) <= position)
        #expect(position < layout.start(of: segment) + layout.capacity(of: segment))
    }

    /// Reads a stream whole, as LOG does: bytes, and the dropped middle as a count.
    static func readAll(_ outputs: TaskOutputs, _ id: TaskID, _ stream: StandardStream) -> (bytes: [UInt8], dropped: Int) {
        var bytes: [UInt8] = []
        var dropped = 0
        var position = 0
        while true {
            switch outputs.read(id, stream, from: position, count: 100) {
            case .none: return (bytes, dropped)
            case .dropped(let count):
                dropped += count
                position += count
            case .bytes(let piece):
                bytes += piece
                position += piece.count
            }
        }
    }

    static func storages(_ directory: URL) throws -> [any OutputStorage] {
        [MemoryOutputStorage(), try FileOutputStorage(root: directory.appendingPathComponent("out").path, groupID: nil)]
    }

    @Test("written in pieces of every size past the limit, a stream reads back as its head, a counted gap and its tail")
    func headGapTail() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        for storage in try Self.storages(directory) {
            let outputs = TaskOutputs(storage: storage, maxBytes: 1024, logger: Logger(label: "test"))
            let id = TaskID.random()
            var written: [UInt8] = []
            var random = SplitMix64(seed: 7)
            while written.count < 20_000 {
                let piece = (0..<Int(random.next() % 700)).map { _ in UInt8.random(in: 0...255, using: &random) }
                outputs.append(piece, id: id, stream: .stdout)
                written += piece
            }
            outputs.append(Array("err".utf8), id: id, stream: .stderr)
            let (bytes, dropped) = Self.readAll(outputs, id, .stdout)
            let layout = OutputLayout(maxBytes: 1024)
            #expect(dropped == layout.dropped(total: written.count), "\(storage.location)")
            #expect(Array(bytes.prefix(512)) == Array(written.prefix(512)))
            #expect(Array(bytes.dropFirst(512)) == Array(written.suffix(bytes.count - 512)))
            #expect(bytes.count + dropped == written.count && bytes.count <= 1024)
            #expect(Self.readAll(outputs, id, .stderr).bytes == Array("err".utf8))
            outputs.remove([id])
            #expect(outputs.read(id, .stdout, from: 0, count: 10) == .none)
        }
    }

    @Test("output in files is found again by a new TaskOutputs, and appended to where it ended; removal deletes its directory")
    func recoversFromFiles() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let root = directory.appendingPathComponent("out").path
        let id = TaskID.random()
        let first = TaskOutputs(storage: try FileOutputStorage(root: root, groupID: nil), maxBytes: 1024, logger: Logger(label: "test"))
        let written = (0..<3000).map { UInt8($0 % 251) }
        first.append(written, id: id, stream: .stdout)
        first.endWriting(id)

        let second = TaskOutputs(storage: try FileOutputStorage(root: root, groupID: nil), maxBytes: 1024, logger: Logger(label: "test"))
        #expect(second.recover() == 1)
        #expect(second.total(id, .stdout) == 3000)
        second.append(Array("tail".utf8), id: id, stream: .stdout)
        let (bytes, dropped) = Self.readAll(second, id, .stdout)
        #expect(bytes.suffix(4) == Array("tail".utf8)[...])
        #expect(bytes.count + dropped == 3004)
        second.removeAll { _ in false }
        #expect(!FileManager.default.fileExists(atPath: "\(root)/\(id)"))
    }

    @Test("a limit of 0 keeps nothing")
    func disabled() throws {
        let outputs = TaskOutputs(storage: MemoryOutputStorage(), maxBytes: 0, logger: Logger(label: "test"))
        let id = TaskID.random()
        outputs.append(Array("x".utf8), id: id, stream: .stdout)
        #expect(outputs.read(id, .stdout, from: 0, count: 10) == .none)
    }

    @Test("a watcher is told of each write until it stops watching")
    func watchers() {
        let outputs = TaskOutputs(storage: MemoryOutputStorage(), maxBytes: 1024, logger: Logger(label: "test"))
        let id = TaskID.random()
        let counter = Counter()
        let token = outputs.watch(id) { counter.increment() }
        outputs.append([1], id: id, stream: .stdout)
        outputs.append([2], id: id, stream: .stderr)
        outputs.unwatch(id, token: token)
        outputs.append([3], id: id, stream: .stdout)
        #expect(counter.count == 2)
    }
}
