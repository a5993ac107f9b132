import LVSPacket
import Testing

@testable import LVSL7

struct Req: L7RequestFields {
    var method = "GET"
    var target: String
    var headers: [(String, String)] = []
    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
}

@Suite struct RouterTests {
    static func table() throws -> L7Router {
        L7Router(rules: [
            L7Rule([.host("img.example.com")], pool: 1),
            L7Rule([.pathRegex(try L7Regex(#"\.(png|jpe?g|gif)$"#))], pool: 1),
            L7Rule([.pathPrefix("/cgi-bin/"), .method(["POST"])], pool: 2),
            L7Rule([.pathPrefix("/cgi-bin/")], pool: 3),
            L7Rule([.header(name: "X-Canary", value: "yes")], pool: 4),
            L7Rule([.host("*.static.example.com")], pool: 5),
            L7Rule([.header(name: "X-Debug", value: nil), .method(["GET", "HEAD"])], pool: 6),
        ], defaultPool: 0)
    }

    @Test func routingTable() throws {
        let r = try Self.table()
        let cases: [(Req, Int)] = [
            (Req(target: "/index.html", headers: [("Host", "www.example.com")]), 0),
            (Req(target: "/index.html", headers: [("Host", "IMG.example.com:8080")]), 1),
            (Req(target: "/a/b/logo.PNG"), 0),  // the regex is case-sensitive
            (Req(target: "/a/b/logo.png?v=3"), 1),  // the query is not part of the path
            (Req(target: "/a/b/logo.jpeg"), 1),
            (Req(target: "/a/b/logo.png.html"), 0),
            (Req(method: "POST", target: "/cgi-bin/form"), 2),
            (Req(method: "GET", target: "/cgi-bin/form"), 3),
            (Req(target: "/cgi-binx"), 0),
            (Req(target: "/", headers: [("x-canary", "YES")]), 4),
            (Req(target: "/", headers: [("x-canary", "no")]), 0),
            (Req(target: "/", headers: [("Host", "a.static.example.com")]), 5),
            (Req(target: "/", headers: [("Host", "static.example.com")]), 0),
            (Req(target: "/", headers: [("X-Debug", "")]), 6),
            (Req(method: "DELETE", target: "/", headers: [("X-Debug", "1")]), 0),
            (Req(target: "http://img.example.com/x.gif"), 1),  // absolute-form target
        ]
        for (req, want) in cases {
            #expect(r.route(req) == want, "\(req.method) \(req.target) \(req.headers)")
        }
    }

    @Test func pathAndHost() {
        #expect(Req(target: "/a?b=/c").path == "/a")
        #expect(Req(target: "http://h:1/p/q?x").path == "/p/q")
        #expect(Req(target: "http://h").path == "/")
        #expect(Req(target: "/", headers: [("Host", "[::1]:80")]).hostName == "[::1]")
        #expect(Req(target: "/").hostName == nil)
    }

    @Test func cookies() {
        #expect(L7Cookies.value(of: "srv", in: "a=1; srv=abc; b=2") == "abc")
        #expect(L7Cookies.value(of: "srv", in: "srvx=1") == nil)
        #expect(L7Cookies.value(of: "srv", in: nil) == nil)
    }
}
