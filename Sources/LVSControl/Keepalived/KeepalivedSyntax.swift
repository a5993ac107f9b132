/// One statement of a keepalived.conf: a keyword, its arguments and, for `keyword ... { }`, the
/// statements of its block.
struct KeepalivedItem: Sendable, Equatable {
    var keyword: KeepalivedToken
    var args: [KeepalivedToken]
    var block: [KeepalivedItem]?
    /// The keyword's text.
    var name: String { keyword.text }
}

/// Groups tokens into statements and blocks.
///
/// A statement starts at the first word of a line, or at a word that is a keyword of the
/// enclosing block (so one-line blocks such as `url { path /  status_code 200 }` split the way
/// keepalived reads them). Blocks of keywords not in the schema are kept whole, unparsed.
struct KeepalivedSyntax {
    let tokens: [KeepalivedToken]
    var pos = 0

    init(_ tokens: [KeepalivedToken]) { self.tokens = tokens }

    static func error(_ t: KeepalivedToken, _ message: String) -> ConfigError {
        ConfigError(file: t.file, line: t.line, column: t.column, message: message)
    }

    /// Parses the whole file as the top-level block.
    mutating func parseFile() throws(ConfigError) -> [KeepalivedItem] {
        let items = try parseBlock(keywords: KeepalivedSchema.keywords(inBlock: nil), opener: nil)
        if pos < tokens.count { throw Self.error(tokens[pos], "unexpected '\(tokens[pos].text)'") }
        return items
    }

    /// Statements until the closing brace of `opener` (consumed) or the end of input (top level).
    mutating func parseBlock(keywords: Set<String>?, opener: KeepalivedToken?) throws(ConfigError) -> [KeepalivedItem] {
        var items: [KeepalivedItem] = []
        while pos < tokens.count {
            let t = tokens[pos]
            if !t.quoted && t.text == "}" {
                guard opener != nil else { throw Self.error(t, "'}' without a matching '{'") }
                pos += 1
                return items
            }
            if !t.quoted && t.text == "{" {
                throw Self.error(t, "'{' without a keyword before it")
            }
            pos += 1
            var item = KeepalivedItem(keyword: t, args: [], block: nil)
            while pos < tokens.count {
                let a = tokens[pos]
                if !a.quoted && a.text == "}" { break }
                if !a.quoted && a.text == "{" {
                    pos += 1
                    let childKeywords = keywords == nil ? nil : KeepalivedSchema.keywords(inBlock: t.text)
                    item.block = try parseBlock(keywords: childKeywords, opener: a)
                    break
                }
                if a.startsLine { break }
                if !a.quoted, let keywords, keywords.contains(a.text), !KeepalivedSchema.isValueWord(a.text, after: t.text) {
                    break
                }
                item.args.append(a)
                pos += 1
            }
            items.append(item)
        }
        if let opener { throw Self.error(opener, "'{' is never closed") }
        return items
    }
}
