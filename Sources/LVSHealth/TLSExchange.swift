import CTLS

/// SSL_GET's request/response over TLS on a connected socket (OpenSSL via the CTLS shim).
enum TLSExchange {
    static let limit = 4 << 20

    static func run(_ fd: Int32, sni: String?, request: [UInt8], deadline: Double) -> Result<[UInt8], ProbeError> {
        let ms = Int32(max(1, min((deadline - ProbeSocket.now()) * 1000, 86_400_000)))
        var out = [UInt8](repeating: 0, count: limit)
        var err = [CChar](repeating: 0, count: 256)
        let n: Int = request.withUnsafeBufferPointer { req in
            out.withUnsafeMutableBufferPointer { o in
                err.withUnsafeMutableBufferPointer { e in
                    if let sni {
                        return sni.withCString {
                            lvs_tls_exchange(fd, $0, req.baseAddress, req.count, o.baseAddress, o.count, ms, e.baseAddress, e.count)
                        }
                    }
                    return lvs_tls_exchange(fd, nil, req.baseAddress, req.count, o.baseAddress, o.count, ms, e.baseAddress, e.count)
                }
            }
        }
        guard n >= 0 else { return .failure(ProbeError(String(cString: err))) }
        return .success(Array(out[0..<n]))
    }
}
