#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The user and group database (NSS: /etc/passwd, /etc/group, or whatever the host is set up with),
/// through the reentrant libc calls.
enum SystemAccounts {
    /// The uid of a user name, or of a decimal uid given as text; nil when there is no such user.
    static func userID(_ nameOrNumber: String) -> UInt32? {
        if let number = UInt32(nameOrNumber) { return number }
        return withEntryBuffer { buffer in
            var entry = passwd()
            var result: UnsafeMutablePointer<passwd>?
            let status = getpwnam_r(nameOrNumber, &entry, buffer.baseAddress!, buffer.count, &result)
            return (status, result == nil ? nil : entry.pw_uid)
        }
    }

    /// The gid of a group name, or of a decimal gid given as text; nil when there is no such group.
    static func groupID(_ nameOrNumber: String) -> UInt32? {
        if let number = UInt32(nameOrNumber) { return number }
        return withEntryBuffer { buffer in
            var entry = group()
            var result: UnsafeMutablePointer<group>?
            let status = getgrnam_r(nameOrNumber, &entry, buffer.baseAddress!, buffer.count, &result)
            return (status, result == nil ? nil : entry.gr_gid)
        }
    }

    /// Every group the user `uid` belongs to, its primary group `gid` included (as `id` lists them);
    /// just `gid` when the user is not in the database.
    static func groups(ofUser uid: UInt32, primaryGroup gid: UInt32) -> [UInt32] {
        let name: String? = withEntryBuffer { buffer in
            var entry = passwd()
            var result: UnsafeMutablePointer<passwd>?
            let status = getpwuid_r(uid, &entry, buffer.baseAddress!, buffer.count, &result)
            return (status, result == nil ? nil : String(cString: entry.pw_name))
        }
        guard let name else { return [gid] }
        var count: Int32 = 32
        while true {
            var groups = [gid_t](repeating: 0, count: Int(count))
            let capacity = count
            // Returns -1 and sets `count` to the number needed when the array is too small.
            if getgrouplist(name, gid, &groups, &count) != -1 {
                return Array(groups.prefix(Int(count)))
            }
            if count <= capacity { count = capacity * 2 }
        }
    }

    /// Calls `body` with a buffer for the strings of one database entry, growing it while the
    /// call reports ERANGE.
    private static func withEntryBuffer<T>(_ body: (UnsafeMutableBufferPointer<CChar>) -> (Int32, T?)) -> T? {
        var size = 1024
        while size <= 1 << 20 {
            let buffer = UnsafeMutableBufferPointer<CChar>.allocate(capacity: size)
            defer { buffer.deallocate() }
            let (status, value) = body(buffer)
            if status == ERANGE {
                size *= 4
                continue
            }
            return value
        }
        return nil
    }
}
