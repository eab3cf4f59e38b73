import Hummingbird

/// Lets through only requests that carry the configured token: `Authorization: Bearer TOKEN`, or
/// `?token=TOKEN` (a browser's page load and its EventSource cannot set the header). Others get
/// 401 with `WWW-Authenticate: Bearer`.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let header = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        let query = request.uri.queryParameters.get("token")
        if let given = header ?? query, Self.same(given, token) {
            return try await next(request, context)
        }
        return Response(
            status: .unauthorized,
            headers: [.wwwAuthenticate: #"Bearer realm="pybgd""#, .contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: "a bearer token is required: Authorization: Bearer TOKEN, or ?token=TOKEN\n")))
    }

    /// Compares in time that depends on the lengths only, not on where they first differ.
    static func same(_ given: String, _ expected: String) -> Bool {
        let a = Array(given.utf8)
        let b = Array(expected.utf8)
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}
