import Foundation
import PyBackgroundTesting

/// A temporary directory for a test's small files.
struct TemporaryFiles {
    let directory: URL

    init() throws {
        directory = try TemporaryDirectory.make("pybgd-pg-files")
    }

    /// Writes `text` to a file named `name` and returns its path.
    func write(_ name: String, _ text: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}
