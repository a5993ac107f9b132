#if canImport(Glibc)
import Glibc
#endif

/// A word of a keepalived.conf file with where it was written.
public struct KeepalivedToken: Sendable, Equatable, CustomStringConvertible {
    public var text: String
    public var file: String
    public var line: Int
    public var column: Int
    /// First word of its line (keepalived's statements are line-based).
    public var startsLine: Bool
    /// Written in double quotes (never a brace, never a keyword).
    public var quoted: Bool

    public var description: String { quoted ? "\"\(text)\"" : text }
    public var location: String { "\(file):\(line):\(column)" }
}

/// Splits keepalived.conf text into words, braces and quoted strings, following `include` lines.
///
/// Comments start with `#` or `!` and run to the end of the line. `include PATTERN` (a glob,
/// relative to the including file's directory) splices the matching files in, sorted, at that
/// point; a pattern matching nothing is a warning (keepalived's behaviour), a cycle an error.
struct KeepalivedTokenizer {
    static let maxIncludeDepth = 16
    var warnings: [KeepalivedWarning] = []

    mutating func tokenize(path: String) throws(ConfigError) -> [KeepalivedToken] {
        try tokenize(text: try ConfigFile.read(path), file: path, stack: [path])
    }

    mutating func tokenize(text: String, file: String, stack: [String] = []) throws(ConfigError) -> [KeepalivedToken] {
        var out: [KeepalivedToken] = []
        var lineNo = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNo += 1
            var words: [KeepalivedToken] = []
            let chars = Array(rawLine.unicodeScalars)
            var i = 0
            func emit(_ s: String, _ col: Int, quoted: Bool) {
                words.append(KeepalivedToken(text: s, file: file, line: lineNo, column: col, startsLine: words.isEmpty,
                                             quoted: quoted))
            }
            while i < chars.count {
                let c = chars[i]
                if c == " " || c == "\t" || c == "\r" { i += 1; continue }
                if c == "#" || c == "!" { break }
                if c == "{" || c == "}" { emit(String(c), i + 1, quoted: false); i += 1; continue }
                if c == "\"" {
                    let start = i
                    i += 1
                    var s = String.UnicodeScalarView()
                    var closed = false
                    while i < chars.count {
                        if chars[i] == "\\", i + 1 < chars.count { s.append(chars[i + 1]); i += 2; continue }
                        if chars[i] == "\"" { closed = true; i += 1; break }
                        s.append(chars[i]); i += 1
                    }
                    guard closed else {
                        throw ConfigError(file: file, line: lineNo, column: start + 1, message: "unterminated quoted string")
                    }
                    emit(String(s), start + 1, quoted: true)
                    continue
                }
                let start = i
                var s = String.UnicodeScalarView()
                while i < chars.count, !" \t\r{}\"".unicodeScalars.contains(chars[i]) {
                    s.append(chars[i]); i += 1
                }
                emit(String(s), start + 1, quoted: false)
            }
            if let first = words.first, first.text == "include", !first.quoted {
                guard words.count == 2 else {
                    throw ConfigError(file: file, line: lineNo, column: first.column,
                                      message: "include takes exactly one file name or glob pattern")
                }
                out += try include(words[1], from: file, stack: stack)
                continue
            }
            out += words
        }
        return out
    }

    mutating func include(_ pattern: KeepalivedToken, from file: String, stack: [String]) throws(ConfigError) -> [KeepalivedToken] {
        guard stack.count < Self.maxIncludeDepth else {
            throw ConfigError(file: pattern.file, line: pattern.line, column: pattern.column,
                              message: "include nested deeper than \(Self.maxIncludeDepth) files")
        }
        var full = pattern.text
        if !full.hasPrefix("/") {
            if let slash = file.lastIndex(of: "/") { full = String(file[...slash]) + full }
        }
        var g = glob_t()
        defer { globfree(&g) }
        let rc = glob(full, 0, nil, &g)
        var paths: [String] = []
        if rc == 0 {
            for k in 0..<Int(g.gl_pathc) { if let p = g.gl_pathv[k] { paths.append(String(cString: p)) } }
        }
        if paths.isEmpty {
            warnings.append(KeepalivedWarning(file: pattern.file, line: pattern.line,
                                              message: "include \(pattern.text): no file matches"))
            return []
        }
        var out: [KeepalivedToken] = []
        for p in paths.sorted() {
            guard !stack.contains(p) else {
                throw ConfigError(file: pattern.file, line: pattern.line, column: pattern.column,
                                  message: "include cycle: \(p) includes itself")
            }
            out += try tokenize(text: try ConfigFile.read(p), file: p, stack: stack + [p])
        }
        return out
    }
}

/// A non-fatal remark about a keepalived.conf (ignored or unsupported keyword): `FILE:LINE: message`.
public struct KeepalivedWarning: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public var description: String { "\(file):\(line): warning: \(message)" }
}
