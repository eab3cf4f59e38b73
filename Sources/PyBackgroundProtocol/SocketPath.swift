/// Where the daemon listens and the client connects when no path is given.
public enum SocketPath {
    /// `$RUNTIME_DIRECTORY/pybgd.sock` (systemd's RuntimeDirectory=), else
    /// `$XDG_RUNTIME_DIR/pybgd.sock`, else `/tmp/pybgd-UID/pybgd.sock`.
    ///
    /// systemd may list several runtime directories separated by colons; the first is used.
    public static func `default`(environment: [String: String], uid: UInt32) -> String {
        if let runtime = environment["RUNTIME_DIRECTORY"]?.split(separator: ":").first, !runtime.isEmpty {
            return "\(runtime)/pybgd.sock"
        }
        if let xdg = environment["XDG_RUNTIME_DIR"], !xdg.isEmpty {
            return "\(xdg)/pybgd.sock"
        }
        return "/tmp/pybgd-\(uid)/pybgd.sock"
    }
}
