/// Who may use the control socket, decided from the peer's credentials on every connection.
///
/// It backs up the socket file's mode rather than replacing it: a socket passed by systemd, or
/// one whose directory or mode was loosened, still lets in only these. Allowed are root, the
/// daemon's own user, the users of `access.allow_users`, and members (primary or supplementary)
/// of the groups of `access.allow_groups`, which defaults to the socket's group when the socket
/// is made with mode 0660.
struct AccessPolicy: Sendable, Hashable {
    let users: Set<UInt32>
    let groups: Set<UInt32>

    /// - Parameters:
    ///   - socketGroup: the gid the socket file is given (mode 0660), if any.
    ///   - daemonUser: the daemon's effective uid.
    init(access: DaemonConfiguration.Access, socketGroup: UInt32?, daemonUser: UInt32) {
        users = Set([0, daemonUser] + (access.allowUsers ?? []))
        groups = Set(access.allowGroups ?? socketGroup.map { [$0] } ?? [])
    }

    /// Whether `peer` may use the socket. `groupsOfUser` is asked only when uid and primary group
    /// do not decide (it reads the group database).
    func allows(_ peer: PeerCredentials, groupsOfUser: (PeerCredentials) -> [UInt32]) -> Bool {
        if users.contains(peer.uid) || groups.contains(peer.gid) { return true }
        guard !groups.isEmpty else { return false }
        return groupsOfUser(peer).contains { groups.contains($0) }
    }
}
