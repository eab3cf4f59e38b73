#if canImport(Glibc)
import Glibc
#endif

/// What in a valid config will make tasks fail on this machine as it is now: a command task's
/// program that is not found or not executable, a working directory that is not a directory.
/// Not errors (a program may be installed after pybgd starts), but `pybgd --check-config` prints
/// them and pybgd logs them at start, so they are found before a task fails with `spawn-failed`.
public enum ConfigurationWarnings {
    /// One line per problem, naming the task, the key and what was looked for.
    public static func of(_ configuration: DaemonConfiguration, path daemonPath: String?) -> [String] {
        var warnings: [String] = []
        for (index, command) in configuration.commands.enumerated() {
            let key = "tasks[\(index)] (\(command.name))"
            let program = command.argv.program
            let searchPath = command.environment["PATH"] ?? (command.inheritEnvironment ? daemonPath : nil) ?? "/usr/bin:/bin"
            if program.contains("/") {
                if access(program, X_OK) != 0 {
                    warnings.append(
                        "\(key).argv[0]: \(program) is not an executable file here (\(String(cString: strerror(errno)))); the task will fail with spawn-failed")
                }
            } else if ProgramSearch.find(program, in: searchPath) == nil {
                warnings.append("\(key).argv[0]: no program \"\(program)\" on the task's PATH; the task will fail with spawn-failed")
            }
            if let directory = command.workingDirectory {
                var status = stat()
                if stat(directory, &status) != 0 || (status.st_mode & S_IFMT) != S_IFDIR {
                    warnings.append("\(key).working_directory: \(directory) is not a directory here; the task will fail with spawn-failed")
                }
            }
        }
        return warnings
    }
}
