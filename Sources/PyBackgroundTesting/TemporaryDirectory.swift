import Foundation

/// Fresh directories for a test's sockets, configs and state stores.
public enum TemporaryDirectory {
    /// A new, empty directory; the caller removes it. Under `$TMPDIR` unless that is so long that a
    /// socket path inside it would pass the 107-byte limit of `sun_path`, then under `/tmp`.
    public static func make(_ label: String = "pybgd-test") throws -> URL {
        let base = NSTemporaryDirectory().utf8.count <= 48 ? NSTemporaryDirectory() : "/tmp"
        let directory = URL(fileURLWithPath: base).appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }
}
