/// Who is at the other end of a connection, as the kernel recorded it when the client connected
/// (SO_PEERCRED): not something the client can claim.
struct PeerCredentials: Sendable, Hashable {
    let pid: Int32
    let uid: UInt32
    let gid: UInt32

    /// `struct ucred` as getsockopt(SO_PEERCRED) fills it: pid, uid, gid, each 32 bits. Glibc's
    /// header hides it without _GNU_SOURCE, so it is read as three words.
    typealias Raw = InlineArray<3, UInt32>

    init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    init(_ raw: Raw) {
        self.init(pid: Int32(bitPattern: raw[0]), uid: raw[1], gid: raw[2])
    }
}
