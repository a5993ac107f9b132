import LVSEngine

/// ipvsadm's names for the scheduler flags (`-b`, `ipvsadm.c parse_sched_flags` and
/// `print_sched_flags`): `sh-fallback`/`sh-port` for sh, `mh-fallback`/`mh-port` for mh (SCHED1 and
/// SCHED2), and `flag-1`, `flag-2`, `flag-3` for any scheduler.
public enum SchedulerFlagNames {
    /// Why a flag name was refused.
    public enum Problem: Error, Equatable, Sendable {
        /// Not a flag name at all.
        case invalid
        /// A flag of another scheduler (e.g. `sh-port` with mh).
        case incompatible
    }

    /// The bit of one flag name for `scheduler`.
    public static func flag(_ name: some StringProtocol, scheduler: String) -> Result<UInt32, Problem> {
        switch name {
        case "flag-1": return .success(SchedulerFlags.sched1)
        case "flag-2": return .success(SchedulerFlags.sched2)
        case "flag-3": return .success(SchedulerFlags.sched3)
        case "sh-fallback", "sh-port":
            guard scheduler == "sh" else { return .failure(.incompatible) }
            return .success(name == "sh-port" ? SchedulerFlags.port : SchedulerFlags.fallback)
        case "mh-fallback", "mh-port":
            guard scheduler == "mh" else { return .failure(.incompatible) }
            return .success(name == "mh-port" ? SchedulerFlags.port : SchedulerFlags.fallback)
        default:
            return .failure(.invalid)
        }
    }

    /// `print_sched_flags`: the names of the set flags in ipvsadm's order.
    public static func names(_ flags: UInt32, scheduler: String) -> [String] {
        let first: [String]
        switch scheduler {
        case "sh": first = ["sh-fallback", "sh-port"]
        case "mh": first = ["mh-fallback", "mh-port"]
        default: first = ["flag-1", "flag-2"]
        }
        var out: [String] = []
        if flags & SchedulerFlags.sched1 != 0 { out.append(first[0]) }
        if flags & SchedulerFlags.sched2 != 0 { out.append(first[1]) }
        if flags & SchedulerFlags.sched3 != 0 { out.append("flag-3") }
        return out
    }

    /// The comma-separated list ipvsadm prints, or nil when no flag is set.
    public static func list(_ flags: UInt32, scheduler: String) -> String? {
        let n = names(flags, scheduler: scheduler)
        return n.isEmpty ? nil : n.joined(separator: ",")
    }
}
