import PyBackground
import PyBackgroundProtocol
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Tasks' output in files beside the SQLite store: `<store>-output/<id>/stdout.<segment>` and
/// `stderr.<segment>`, made with the store's permissions (0700/0600, or 0750/0640 for its group).
///
/// Not synced on each write: after a crash of the machine (not of pybgd) the last seconds of
/// output may be missing; the task's rows are what the store guarantees.
final class FileOutputStorage: OutputStorage {
    let root: String
    private let groupID: UInt32?
    private var directoryMode: mode_t { groupID == nil ? 0o700 : 0o750 }
    private var fileMode: mode_t { groupID == nil ? 0o600 : 0o640 }
    /// The segment each task's stream writes to, open.
    private let open = Mutex<[OutputSegment: Int32]>([:])

    /// Creates `root` if it does not exist.
    init(root: String, groupID: UInt32?) throws(OutputStorageError) {
        self.root = root
        self.groupID = groupID
        try makeDirectory(root)
    }

    /// `<store path>-output`, as SQLite names its own `-wal` and `-shm` files.
    static func root(forStore path: String) -> String { path + "-output" }

    var location: String { root }

    deinit {
        for descriptor in open.withLock({ $0.values }) { close(descriptor) }
    }

    func append(_ bytes: UnsafeRawBufferPointer, to segment: OutputSegment) throws(OutputStorageError) {
        let descriptor = try descriptor(for: segment)
        var written = 0
        while written < bytes.count {
            let result = write(descriptor, bytes.baseAddress! + written, bytes.count - written)
            if result < 0 {
                if errno == EINTR { continue }
                throw OutputStorageError(description: "cannot write \(path(of: segment)): \(String(cString: strerror(errno)))")
            }
            written += result
        }
    }

    func read(_ segment: OutputSegment, offset: Int, count: Int) throws(OutputStorageError) -> [UInt8] {
        let descriptor = Glibc.open(path(of: segment), O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { return [] }
            throw OutputStorageError(description: "cannot read \(path(of: segment)): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let result = bytes.withUnsafeMutableBytes { buffer in
                pread(descriptor, buffer.baseAddress! + filled, count - filled, off_t(offset + filled))
            }
            if result < 0 && errno == EINTR { continue }
            if result < 0 {
                throw OutputStorageError(description: "cannot read \(path(of: segment)): \(String(cString: strerror(errno)))")
            }
            if result == 0 { break }
            filled += result
        }
        bytes.removeLast(count - filled)
        return bytes
    }

    func drop(_ segment: OutputSegment) {
        if let descriptor = open.withLock({ $0.removeValue(forKey: segment) }) { close(descriptor) }
        unlink(path(of: segment))
    }

    func endWriting(_ id: TaskID) {
        let descriptors = open.withLock { open in
            let keys = open.keys.filter { $0.id == id }
            return keys.compactMap { open.removeValue(forKey: $0) }
        }
        for descriptor in descriptors { close(descriptor) }
    }

    func remove(_ id: TaskID) {
        endWriting(id)
        let directory = directory(of: id)
        if let names = try? FileManager.default.contentsOfDirectory(atPath: directory) {
            for name in names { unlink("\(directory)/\(name)") }
        }
        rmdir(directory)
    }

    func recover() -> [TaskID: [StandardStream: (segment: Int, size: Int)]] {
        var found: [TaskID: [StandardStream: (segment: Int, size: Int)]] = [:]
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root) else { return [:] }
        for name in names {
            guard let id = TaskID(name), let files = try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(name)") else { continue }
            for file in files {
                let parts = file.split(separator: ".")
                guard parts.count == 2, let stream = StandardStream(rawValue: String(parts[0])), let index = Int(parts[1]) else { continue }
                var status = stat()
                guard stat("\(root)/\(name)/\(file)", &status) == 0 else { continue }
                if let last = found[id]?[stream], last.segment > index { continue }
                found[id, default: [:]][stream] = (index, Int(status.st_size))
            }
            if found[id] == nil { rmdir("\(root)/\(name)") }
        }
        return found
    }

    // MARK: - Files

    private func directory(of id: TaskID) -> String { "\(root)/\(id)" }

    private func path(of segment: OutputSegment) -> String {
        "\(directory(of: segment.id))/\(segment.stream.rawValue).\(segment.index)"
    }

    private func descriptor(for segment: OutputSegment) throws(OutputStorageError) -> Int32 {
        if let descriptor = open.withLock({ $0[segment] }) { return descriptor }
        if segment.index == 0 || access(directory(of: segment.id), F_OK) != 0 { try makeDirectory(directory(of: segment.id)) }
        let descriptor = Glibc.open(path(of: segment), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, fileMode)
        guard descriptor >= 0 else {
            throw OutputStorageError(description: "cannot create \(path(of: segment)): \(String(cString: strerror(errno)))")
        }
        if let groupID { _ = fchown(descriptor, uid_t.max, groupID) }
        // The stream's earlier segment is done with: one open file per stream being written.
        let previous = open.withLock { open in
            let earlier = open.keys.filter { $0.id == segment.id && $0.stream == segment.stream }
            open[segment] = descriptor
            return earlier.compactMap { open.removeValue(forKey: $0) }
        }
        for old in previous { close(old) }
        return descriptor
    }

    private func makeDirectory(_ path: String) throws(OutputStorageError) {
        if mkdir(path, directoryMode) != 0 {
            guard errno == EEXIST else {
                throw OutputStorageError(description: "cannot create \(path): \(String(cString: strerror(errno)))")
            }
            return
        }
        // mkdir's mode is cut by the umask: set it whole.
        _ = chmod(path, directoryMode)
        if let groupID { _ = chown(path, uid_t.max, groupID) }
    }
}
