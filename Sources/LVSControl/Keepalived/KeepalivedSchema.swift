/// The keywords lvsd knows in each keepalived.conf block: those it applies and those it
/// recognises but ignores (with a warning). docs/HEALTH.md has the same matrix for users.
enum KeepalivedSchema {
    static let checkers = ["TCP_CHECK", "HTTP_GET", "SSL_GET", "MISC_CHECK", "UDP_CHECK", "DNS_CHECK", "AGENT_CHECK",
                           "SMTP_CHECK", "PING_CHECK", "BFD_CHECK", "FILE_CHECK"]
    static let timers = ["delay_loop", "connect_timeout", "retry", "nb_get_retry", "nb_sock_retry",
                         "delay_before_retry", "warmup"]

    static let top: Set<String> = ["global_defs", "virtual_server", "virtual_server_group", "vrrp_instance",
                                   "vrrp_script", "vrrp_sync_group", "static_ipaddress", "static_routes",
                                   "static_rules", "SSL", "linkbeat_use_polling", "net_namespace", "track_file",
                                   "local_address_group"]
    static let globalDefs: Set<String> = ["lvs_timeouts", "lvsd_interfaces", "lvsd_gateway", "lvsd_control_socket",
                                          "lvsd_metrics_listen", "lvsd_connection_capacity", "router_id",
                                          "notification_email", "notification_email_from", "smtp_server",
                                          "smtp_connect_timeout", "lvs_sync_daemon", "lvs_flush", "enable_script_security",
                                          "script_user", "vrrp_skip_check_adv_addr", "vrrp_strict",
                                          "vrrp_garp_interval", "vrrp_gna_interval", "lvs_flush_on_stop"]
    static let virtualServer: Set<String> = Set([
        "lb_algo", "lvs_sched", "lb_kind", "lvs_method", "protocol", "persistence_timeout",
        "persistence_granularity", "persistence_engine", "inhibit_on_failure", "alpha", "omega", "quorum",
        "hysteresis", "quorum_up", "quorum_down", "sorry_server", "sorry_server_inhibit",
        "sorry_server_lvs_method", "real_server", "virtualhost", "ha_suspend", "sh-port", "sh-fallback",
        "mh-port", "mh-fallback", "ops", "flag-1", "flag-2", "flag-3", "one_packet_scheduling",
        "laddr_group_name", "vdport_range", "client_address",
    ] + timers)
    static let realServer: Set<String> = Set([
        "weight", "lb_kind", "lvs_method", "uthreshold", "lthreshold", "inhibit_on_failure", "alpha", "notify_up",
        "notify_down", "virtualhost",
    ] + checkers + timers)
    static let checker: Set<String> = Set([
        "connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "fwmark", "url", "http_protocol",
        "virtualhost", "misc_path", "misc_timeout", "misc_dynamic", "user", "type", "name", "payload",
        "require_reply", "fast_recovery", "log_all_failures", "alpha", "enable_sni", "sni_name", "tls_compliant",
    ] + timers)
    static let url: Set<String> = ["path", "status_code", "digest", "virtualhost", "regex", "regex_no_match",
                                   "regex_options", "regex_stack", "regex_min_offset", "regex_max_offset"]

    /// The keywords of the block opened by `keyword` (nil for the top level); nil when lvsd does
    /// not look inside that block.
    static func keywords(inBlock keyword: String?) -> Set<String>? {
        switch keyword {
        case nil: top
        case "global_defs": globalDefs
        case "virtual_server": virtualServer
        case "real_server": realServer
        case "url": url
        case let k? where checkers.contains(k): checker
        default: nil
        }
    }

    /// Words that are keywords elsewhere but values after `keyword` (none so far).
    static func isValueWord(_ word: String, after keyword: String) -> Bool { false }
}
