import PyBackground

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// The shared store keeps task ids as PostgreSQL uuids: the same 128 bits.

extension UUID {
    /// A task id's 128 bits as a UUID, most significant byte first.
    init(_ id: TaskID) {
        var bytes: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &bytes) { raw in
            raw.storeBytes(of: id.high.bigEndian, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: id.low.bigEndian, toByteOffset: 8, as: UInt64.self)
        }
        self.init(uuid: bytes)
    }
}

extension TaskID {
    /// A UUID's 128 bits as a task id.
    init(_ uuid: UUID) {
        let (high, low) = withUnsafeBytes(of: uuid.uuid) { raw in
            (
                UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            )
        }
        self.init(high: high, low: low)
    }
}
