#if canImport(Glibc)
import Glibc
#endif

/// Where a program named without a slash is found: the first directory of a colon-separated search
/// path holding an executable file of that name. Empty entries are skipped rather than taken as the
/// working directory, so a daemon never runs what happens to lie where it was started.
enum ProgramSearch {
    static func find(_ name: String, in searchPath: String) -> String? {
        searchPath.split(separator: ":").map { "\($0)/\(name)" }.first { access($0, X_OK) == 0 }
    }
}
