import PyBackgroundTesting
import Testing

@testable import PyBackgroundDaemon

@Suite("Access policy")
struct AccessPolicyTests {
    /// The daemon runs as uid 500; the peer's database groups are given by the case.
    struct Case: Sendable, CustomTestStringConvertible {
        let allowUsers: [UInt32]?
        let allowGroups: [UInt32]?
        let socketGroup: UInt32?
        let peer: PeerCredentials
        let databaseGroups: [UInt32]
        let allowed: Bool
        var testDescription: String {
            "users \(allowUsers.map { "\($0)" } ?? "nil"), groups \(allowGroups.map { "\($0)" } ?? "nil"), socket group \(socketGroup.map { "\($0)" } ?? "nil"), peer uid \(peer.uid) gid \(peer.gid) in \(databaseGroups) → \(allowed)"
        }
    }

    static func peer(uid: UInt32, gid: UInt32) -> PeerCredentials { PeerCredentials(pid: 42, uid: uid, gid: gid) }

    @Test(
        "who is let in",
        arguments: [
            // Root and the daemon's own user always.
            Case(allowUsers: nil, allowGroups: [], socketGroup: nil, peer: peer(uid: 0, gid: 0), databaseGroups: [0], allowed: true),
            Case(allowUsers: nil, allowGroups: [], socketGroup: nil, peer: peer(uid: 500, gid: 500), databaseGroups: [500], allowed: true),
            // Anyone else only when listed.
            Case(allowUsers: nil, allowGroups: nil, socketGroup: nil, peer: peer(uid: 1001, gid: 1001), databaseGroups: [1001], allowed: false),
            Case(allowUsers: [1001], allowGroups: [], socketGroup: nil, peer: peer(uid: 1001, gid: 1001), databaseGroups: [1001], allowed: true),
            Case(allowUsers: [1002], allowGroups: [], socketGroup: nil, peer: peer(uid: 1001, gid: 1001), databaseGroups: [1001], allowed: false),
            // A group by primary gid or by membership.
            Case(allowUsers: nil, allowGroups: [77], socketGroup: nil, peer: peer(uid: 1001, gid: 77), databaseGroups: [], allowed: true),
            Case(allowUsers: nil, allowGroups: [77], socketGroup: nil, peer: peer(uid: 1001, gid: 1001), databaseGroups: [1001, 77], allowed: true),
            Case(allowUsers: nil, allowGroups: [77], socketGroup: nil, peer: peer(uid: 1001, gid: 1001), databaseGroups: [1001, 78], allowed: false),
            // Without allow_groups, the socket's group (mode 0660) is allowed; an explicit list replaces it.
            Case(allowUsers: nil, allowGroups: nil, socketGroup: 77, peer: peer(uid: 1001, gid: 1001), databaseGroups: [1001, 77], allowed: true),
            Case(allowUsers: nil, allowGroups: [], socketGroup: 77, peer: peer(uid: 1001, gid: 77), databaseGroups: [77], allowed: false),
        ])
    func decides(_ example: Case) {
        var access = DaemonConfiguration.Access()
        access.allowUsers = example.allowUsers
        access.allowGroups = example.allowGroups
        let policy = AccessPolicy(access: access, socketGroup: example.socketGroup, daemonUser: 500)
        #expect(policy.allows(example.peer) { _ in example.databaseGroups } == example.allowed)
    }

    @Test("the group database is not read when uid or primary group decide")
    func databaseReadOnlyWhenNeeded() {
        var access = DaemonConfiguration.Access()
        access.allowUsers = [1001]
        access.allowGroups = [77]
        let policy = AccessPolicy(access: access, socketGroup: nil, daemonUser: 500)
        var asked = 0
        _ = policy.allows(Self.peer(uid: 1001, gid: 1)) { _ in
            asked += 1
            return []
        }
        _ = policy.allows(Self.peer(uid: 2, gid: 77)) { _ in
            asked += 1
            return []
        }
        #expect(asked == 0)
        _ = policy.allows(Self.peer(uid: 2, gid: 2)) { _ in
            asked += 1
            return []
        }
        #expect(asked == 1)
    }

    @Test(
        "user and group names resolve through the system database; numbers are taken as ids",
        arguments: [
            ("root", UInt32?(0)), ("1234", 1234), ("nobody", 65534), ("no-such-user-here", nil),
        ])
    func resolvesUsers(_ name: String, _ id: UInt32?) {
        #expect(SystemAccounts.userID(name) == id)
    }

    @Test("a user's groups include its primary group")
    func groupsOfRoot() {
        #expect(SystemAccounts.groups(ofUser: 0, primaryGroup: 0).contains(0))
        #expect(SystemAccounts.groups(ofUser: 999_999, primaryGroup: 5) == [5])
        #expect(SystemAccounts.groupID("nogroup") == 65534)
    }
}
