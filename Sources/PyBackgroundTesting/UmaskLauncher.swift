#if canImport(Glibc)
import Glibc
#endif

/// Starts a program with a umask of its own: a shell sets it, then becomes the program (same
/// pid). For children of the test process, whose umask in-process daemons of other tests narrow
/// now and then (`ProcessUmask`).
enum UmaskLauncher {
    static let shell = "/bin/sh"

    /// The shell's argv (its path first) that runs `program` with `arguments` under `umask`.
    static func argv(umask: mode_t, program: String, arguments: [String]) -> [String] {
        [shell, "-c", #"umask \#(String(umask, radix: 8)) && exec "$0" "$@""#, program] + arguments
    }
}
