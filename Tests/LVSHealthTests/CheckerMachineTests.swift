import LVSControl
import Testing

@testable import LVSHealth

/// keepalived's checker timing on a fake clock: retry, delay_before_retry, delay_loop, alpha.
@Suite struct CheckerMachineTests {
    let spec = HealthCheckSpec(kind: .tcp, delayLoop: 6, connectTimeout: 3, retry: 2, delayBeforeRetry: 1)

    @Test func upServerIsRetriedBeforeGoingDown() {
        var m = CheckerMachine(spec: spec, alpha: false, now: 100)
        #expect(m.isUp)
        #expect(m.nextDue == 100)
        do { let changed = m.record(.up(), now: 100); #expect(!changed) }
        #expect(m.nextDue == 106)
        // First and second failures: retries, 1 s apart, still up.
        do { let changed = m.record(.down(reason: "refused"), now: 106); #expect(!changed) }
        #expect(m.isUp && m.nextDue == 107)
        do { let changed = m.record(.down(reason: "refused"), now: 107); #expect(!changed) }
        #expect(m.isUp && m.nextDue == 108)
        // Third: retry (2) exhausted → down, back to delay_loop.
        do { let changed = m.record(.down(reason: "refused"), now: 108); #expect(changed) }
        #expect(!m.isUp)
        #expect(m.nextDue == 114)
        #expect(m.reason == "TCP_CHECK: refused")
        // A down checker is not retried, and comes back at the first success.
        do { let changed = m.record(.down(reason: "refused"), now: 114); #expect(!changed) }
        #expect(m.nextDue == 120)
        do { let changed = m.record(.up(), now: 120); #expect(changed) }
        #expect(m.isUp)
    }

    @Test func aSuccessResetsTheRetryCount() {
        var m = CheckerMachine(spec: spec, alpha: false, now: 0)
        _ = m.record(.down(reason: "x"), now: 0)
        _ = m.record(.down(reason: "x"), now: 1)
        _ = m.record(.up(), now: 2)
        _ = m.record(.down(reason: "x"), now: 8)
        _ = m.record(.down(reason: "x"), now: 9)
        #expect(m.isUp, "two failures after a success are still within retry 2")
    }

    @Test func retryZeroGoesDownAtTheFirstFailure() {
        var s = spec
        s.retry = 0
        var m = CheckerMachine(spec: s, alpha: false, now: 0)
        do { let changed = m.record(.down(reason: "timeout"), now: 0); #expect(changed) }
        #expect(!m.isUp)
    }

    @Test func alphaStartsDown() {
        var m = CheckerMachine(spec: spec, alpha: true, now: 0)
        #expect(!m.isUp)
        do { let changed = m.record(.up(), now: 0); #expect(changed) }
    }

    @Test func miscDynamicWeightIsKeptWhileUpAndDroppedWhenDown() {
        var s = spec
        s.retry = 0
        var m = CheckerMachine(spec: s, alpha: false, now: 0)
        _ = m.record(.up(weight: 5), now: 0)
        #expect(m.dynamicWeight == 5)
        _ = m.record(.down(reason: "exit 1"), now: 6)
        #expect(m.dynamicWeight == nil)
    }

    @Test func agentAnswersSetStateDrainAndPercent() {
        var m = CheckerMachine(spec: HealthCheckSpec(kind: .agent, delayLoop: 2), alpha: false, now: 0)
        _ = m.record(.agent(AgentReport.parse("up 75%")!), now: 0)
        #expect(m.isUp && m.agentPercent == 75 && !m.agentDrain)
        _ = m.record(.agent(AgentReport.parse("drain")!), now: 2)
        #expect(m.isUp && m.agentDrain)
        do { let changed = m.record(.agent(AgentReport.parse("maint")!), now: 4); #expect(changed) }
        #expect(!m.isUp)
        // An unreachable agent changes nothing.
        do { let changed = m.record(.inconclusive(reason: "refused"), now: 6); #expect(!changed) }
        #expect(!m.isUp)
        do { let changed = m.record(.agent(AgentReport.parse("ready")!), now: 8); #expect(changed) }
        #expect(m.isUp && !m.agentDrain && m.agentPercent == 75)
    }

    @Test func agentLines() {
        #expect(AgentReport.parse("75%\n") == AgentReport(state: nil, percent: 75, text: "75%"))
        #expect(AgentReport.parse("up, 50%") == AgentReport(state: .up, percent: 50, text: "up, 50%"))
        #expect(AgentReport.parse("down#disk full")?.state == .down)
        #expect(AgentReport.parse("stopped")?.state == .down)
        #expect(AgentReport.parse("DRAIN")?.state == .drain)
        #expect(AgentReport.parse("hello") == nil)
        #expect(AgentReport.parse("900%") == nil)
        #expect(AgentReport.parse("") == nil)
    }
}
