import LVSControl
import LVSPacket
import Testing

@testable import LVSL7

@Suite struct L7ConfigTests {
    static let example = """
        control_socket: /tmp/lvsd-l7.sock
        l7:
          listen: [127.0.0.1:8080, "[::1]:8080"]
          threads: 2
          limits: {max_header_bytes: 16384, max_body_bytes: 1048576, client_idle_timeout: 30,
                   connect_timeout: 0.5, response_timeout: 20, retries: 1}
          pools:
            - name: static
              scheduler: wrr
              cookie: SRV
              servers:
                - {address: 127.0.0.1, port: 8081, weight: 2, name: s1}
                - {address: 127.0.0.1, port: 8082}
            - name: cache
              scheduler: lblc
              servers: [{address: 127.0.0.1, port: 8083}]
            - name: api
              scheduler: mh
              hash_key: header:X-User
              fail_threshold: 2
              fail_timeout: 5
              servers: [{address: 127.0.0.1, port: 8084}]
          rules:
            - {host: img.example.com, pool: cache}
            - {path_regex: '\\.(png|jpg)$', pool: cache}
            - {path_prefix: /api/, method: [get, POST], pool: api}
            - {header: "X-Canary: yes", pool: api}
          default_pool: static
        """

    @Test func parsesTheExample() throws {
        let c = try #require(try L7ConfigParser.parse(text: Self.example))
        #expect(c.listeners == [L7Listener(address: IPAddress(127, 0, 0, 1), port: 8080),
                                L7Listener(address: IPAddress("::1")!, port: 8080)])
        #expect(c.threads == 2)
        #expect(c.limits.maxHeaderBytes == 16384 && c.limits.maxBodyBytes == 1 << 20)
        #expect(c.limits.connectTimeoutMilliseconds == 500 && c.limits.retries == 1)
        #expect(c.pools.map(\.name) == ["static", "cache", "api"])
        #expect(c.pools[0].servers.map(\.weight) == [2, 1] && c.pools[0].servers[0].cookieValue == "s1")
        #expect(c.pools[0].cookie == "SRV")
        #expect(c.pools[2].hashKey == .header("X-User") && c.pools[2].failThreshold == 2)
        #expect(c.rules.map(\.pool) == [1, 1, 2, 2])
        #expect(c.defaultPool == 0)
        let r = L7Router(rules: c.rules, defaultPool: c.defaultPool)
        #expect(r.route(Req(method: "GET", target: "/api/v1")) == 2)
        #expect(r.route(Req(method: "DELETE", target: "/api/v1")) == 0)
        #expect(r.route(Req(target: "/a.jpg")) == 1)
        // The L4 parser accepts the same file: no interfaces needed with an l7 section.
        let l4 = try LVSDConfiguration.parse(text: Self.example)
        #expect(l4.interfaces.isEmpty)
    }

    @Test func parsesHealthChecks() throws {
        let text = """
            l7:
              listen: [127.0.0.1:80]
              pools:
                - name: web
                  servers: [{address: 127.0.0.1, port: 1}]
                  health_check: {type: http, path: /healthz, status: [200, 300-302], host: h.example, interval: 2, timeout: 1.5, retry: 2, delay_before_retry: 0.5}
                - name: db
                  servers: [{address: 127.0.0.1, port: 2}]
                  health_check: {type: tcp, port: 5432}
                - name: none
                  servers: [{address: 127.0.0.1, port: 3}]
              default_pool: web
            """
        let c = try #require(try L7ConfigParser.parse(text: text))
        #expect(c.pools[0].healthCheck == HealthCheckSpec(
            kind: .http([HTTPCheckURL(path: "/healthz", statusCodes: [200...200, 300...302])], virtualhost: "h.example"),
            delayLoop: 2, connectTimeout: 1.5, retry: 2, delayBeforeRetry: 0.5))
        // Defaults: every 2 s, 1 s timeout, one retry 1 s later.
        #expect(c.pools[1].healthCheck == HealthCheckSpec(kind: .tcp, connectPort: 5432, delayLoop: 2, connectTimeout: 1,
                                                          retry: 1, delayBeforeRetry: 1))
        #expect(c.pools[2].healthCheck == nil)
    }

    @Test func noSectionIsNil() throws {
        #expect(try L7ConfigParser.parse(text: "interfaces: [d0]\n") == nil)
        // Without l7, interfaces stay required.
        #expect(throws: ConfigError.self) { try LVSDConfiguration.parse(text: "control_socket: /tmp/x.sock\n") }
    }

    @Test func errorsCarryLineAndColumn() {
        let cases: [(String, Int, Int, String)] = [
            ("l7:\n  listen: [127.0.0.1:80]\n  pools:\n    - {name: a, scheduler: zz, servers: [{address: 127.0.0.1, port: 1}]}\n",
             4, 28, "unknown scheduler 'zz'"),
            ("l7:\n  listen: [127.0.0.1:80]\n  pools:\n    - {name: a, servers: [{address: 127.0.0.1, port: 1}]}\n  rules:\n    - {path_prefix: /x, pool: b}\n",
             6, 31, "unknown pool 'b'"),
            ("l7:\n  listen: [127.0.0.1:80]\n  pools:\n    - {name: a, servers: [{address: 127.0.0.1, port: 1}]}\n  rules:\n    - {path_regex: '(', pool: a}\n",
             6, 20, "'path_regex' is not a valid regular expression"),
            ("l7:\n  listen: [localhost:80]\n  pools:\n    - {name: a, servers: [{address: 127.0.0.1, port: 1}]}\n",
             2, 12, "'listen' must be ADDRESS:PORT"),
            ("l7:\n  listen: [127.0.0.1:80]\n  pools:\n    - {name: a, servers: [{address: 127.0.0.1, port: 70000}]}\n",
             4, 54, "'port' must be 1..65535"),
            ("l7:\n  listen: [127.0.0.1:80]\n  pools:\n    - {name: a, servers: [{address: 127.0.0.1, port: 1}]}\n    - {name: b, servers: [{address: 127.0.0.1, port: 2}]}\n",
             2, 3, "default_pool"),
            ("l7:\n  listen: [127.0.0.1:80]\n  bogus: 1\n  pools: []\n", 3, 3, "unknown key 'bogus'"),
            ("l7:\n  listen: [127.0.0.1:80]\n  pools:\n    - name: a\n      servers: [{address: 127.0.0.1, port: 1}]\n      health_check: {type: udp}\n", 6, 28, "unknown health_check type 'udp'"),
            ("l7:\n  listen: [127.0.0.1:80]\n  pools:\n    - name: a\n      servers: [{address: 127.0.0.1, port: 1}]\n      health_check: {type: http, status: [200, 700]}\n", 6, 48, "'status' must be HTTP status codes"),
            ("l7:\n  listen: [127.0.0.1:80]\n  pools:\n    - name: a\n      servers: [{address: 127.0.0.1, port: 1}]\n      health_check: {type: tcp, path: /x}\n", 6, 39, "'path' applies to type http only"),
            ("l7:\n  listen: [127.0.0.1:80]\n  pools:\n    - name: a\n      servers: [{address: 127.0.0.1, port: 1}]\n      health_check: {type: http, interval: 0}\n", 6, 44, "'interval' must be more than 0"),
            ("l7:\n  listen: [127.0.0.1:80]\n  pools:\n    - name: a\n      servers: [{address: 127.0.0.1, port: 1}]\n      health_check: {type: http, retries: 2}\n", 6, 34, "unknown key 'retries' in 'health_check'"),
            ("l7:\n  listen: [127.0.0.1:80]\n  pools:\n    - name: a\n      servers: [{address: 127.0.0.1, port: 1}]\n      health_check: {path: /x}\n", 6, 21, "missing the required key 'type'"),
        ]
        for (text, line, column, message) in cases {
            do {
                _ = try L7ConfigParser.parse(text: text, file: "f.yaml")
                Issue.record("no error for \(message)")
            } catch {
                #expect(error.line == line && error.column == column, "\(error)")
                #expect(error.message.contains(message), "\(error)")
                #expect(error.description.hasPrefix("f.yaml:\(line):\(column): "))
            }
        }
    }
}
