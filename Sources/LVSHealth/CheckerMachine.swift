import LVSControl

/// What one probe found.
public enum ProbeOutcome: Sendable, Equatable {
    /// Passed; `weight` is a MISC_CHECK misc_dynamic weight (exit status - 2), if any.
    case up(weight: Int? = nil)
    case down(reason: String)
    /// An agent's answer (docs/HEALTH.md, "Agent check").
    case agent(AgentReport)
    /// The probe could not decide (an agent that cannot be reached): nothing changes.
    case inconclusive(reason: String)
}

/// An agent's one-line answer, parsed (HAProxy's agent-check words).
public struct AgentReport: Sendable, Equatable {
    public enum State: Sendable, Equatable { case up, down, drain }
    /// nil when the line only carried a weight.
    public var state: State?
    /// `75%` → 75; nil when the line carried none.
    public var percent: Int?
    public var text: String

    public init(state: State? = nil, percent: Int? = nil, text: String) {
        self.state = state
        self.percent = percent
        self.text = text
    }

    /// Parses "up 75%", "drain", "down#reason", "maint", "ready", "50%": words separated by
    /// spaces, tabs or commas; anything after `#` is a comment. Nil if no word is understood.
    public static func parse(_ line: String) -> AgentReport? {
        let body = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        var r = AgentReport(text: line.trimmingWhitespace)
        var understood = false
        for w in body.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," || $0 == "\r" || $0 == "\n" }) {
            let word = w.lowercased()
            switch word {
            case "up", "ready": r.state = .up; understood = true
            case "down", "fail", "failed", "stopped", "maint": r.state = .down; understood = true
            case "drain": r.state = .drain; understood = true
            default:
                if word.hasSuffix("%"), let p = Int(word.dropLast()), (0...256).contains(p) {
                    r.percent = p
                    understood = true
                }
            }
        }
        return understood ? r : nil
    }
}

/// One checker's keepalived state machine, driven by an injected clock (seconds).
///
/// An up checker that fails is retried `retry` times, `delayBeforeRetry` apart, before it goes
/// down; a down checker goes up at its first success. Between rounds it waits `delayLoop`.
/// With `alpha` a checker starts down. An agent checker keeps the agent's last state and weight.
public struct CheckerMachine: Sendable, Equatable {
    public let spec: HealthCheckSpec
    public private(set) var isUp: Bool
    /// When the next probe is due.
    public private(set) var nextDue: Double
    /// Consecutive failures in the current round (retries used + 1).
    public private(set) var failures = 0
    /// Why the checker is in its state (the last probe's reason).
    public private(set) var reason: String
    /// MISC_CHECK misc_dynamic weight of the last success.
    public private(set) var dynamicWeight: Int?
    /// Agent state: percent of the configured weight, drain.
    public private(set) var agentPercent: Int?
    public private(set) var agentDrain = false

    public init(spec: HealthCheckSpec, alpha: Bool, now: Double) {
        self.spec = spec
        isUp = !alpha
        nextDue = now
        reason = alpha ? "alpha: down until the first successful check" : "not checked yet"
    }

    /// Records a probe's outcome at `now`; returns true when `isUp` changed.
    public mutating func record(_ outcome: ProbeOutcome, now: Double) -> Bool {
        let was = isUp
        switch outcome {
        case .up(let weight):
            failures = 0
            isUp = true
            dynamicWeight = weight
            reason = "\(spec.kind) succeeded" + (weight.map { " (dynamic weight \($0))" } ?? "")
            nextDue = now + spec.delayLoop
        case .down(let why):
            failures += 1
            reason = "\(spec.kind): \(why)"
            if isUp && failures <= spec.retry {
                nextDue = now + spec.delayBeforeRetry
            } else {
                isUp = false
                failures = 0
                dynamicWeight = nil
                nextDue = now + spec.delayLoop
            }
        case .agent(let report):
            failures = 0
            reason = "agent answered '\(report.text)'"
            switch report.state {
            case .up?: isUp = true; agentDrain = false
            case .down?: isUp = false; agentDrain = false
            case .drain?: agentDrain = true
            case nil: break
            }
            if let p = report.percent { agentPercent = p }
            nextDue = now + spec.delayLoop
        case .inconclusive(let why):
            reason = "\(spec.kind): \(why) (state kept)"
            nextDue = now + spec.delayLoop
        }
        return was != isUp
    }
}

extension String {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" || f == "\n" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" || l == "\n" { s.removeLast() }
        return String(s)
    }
}
