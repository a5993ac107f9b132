# SwiftLVS as a backend of ../shared/lab (bench.sh accepts this file's path). Sourced after the
# lab's lib.sh: $NS_D, $VIP, $VIP_PORT, $IPERF_PORT, $LAB_N, server_ip, start_bg, stop_pid, ...
# lvsd owns the VIP in its data plane, so the lab's VIP address on d0 is removed and the
# director's forwarding is turned off while it runs (both restored by backend_stop).
SWIFTLVS_BIN=${SWIFTLVS_BIN:?set SWIFTLVS_BIN to the directory holding lvsd and lvsadm}
SWIFTLVS_SCHED=${SWIFTLVS_SCHED:-rr}
BACKEND_DESC="SwiftLVS lvsd, VS/NAT, $SWIFTLVS_SCHED, AF_PACKET TPACKET_V2 + sendmmsg + PACKET_VNET_HDR"
BACKEND_IPERF_PORT=$IPERF_PORT

swiftlvs_config() {
    local i
    echo "control_socket: $LAB_RUN/lvsd.sock"
    echo "interfaces: [d0, d1]"
    echo "services:"
    echo "  - {protocol: tcp, address: $VIP, port: $VIP_PORT, scheduler: $SWIFTLVS_SCHED, real_servers: ["
    for i in $(seq "$LAB_N"); do echo "      {address: $(server_ip "$i"), port: 80},"; done
    echo "    ]}"
    # iperf3's control and data connections must meet one server: a one-server service.
    echo "  - {protocol: tcp, address: $VIP, port: $IPERF_PORT, scheduler: rr, real_servers: [{address: $(server_ip 1), port: $IPERF_PORT}]}"
}

backend_start() {
    mkdir -p "$LAB_RUN"
    swiftlvs_config > "$LAB_RUN/lvsd.yaml"
    ip -n "$NS_D" addr del "$VIP/32" dev d0 2>/dev/null || true
    ip netns exec "$NS_D" sysctl -qw net.ipv4.ip_forward=0
    start_bg "$NS_D" director-swiftlvs "$DIRECTOR_CPUS" "$SWIFTLVS_BIN/lvsd" -f "$LAB_RUN/lvsd.yaml"
    local i
    for i in $(seq 100); do [ -S "$LAB_RUN/lvsd.sock" ] && break; sleep 0.1; done
    [ -S "$LAB_RUN/lvsd.sock" ] || { cat "$LAB_RUN/logs/director-swiftlvs.log" >&2; return 1; }
    # Let the client's ARP entry for the VIP point at the data plane.
    ip netns exec "$NS_C" ip neigh flush all 2>/dev/null || true
}

backend_stop() {
    stop_pid director-swiftlvs
    ip netns exec "$NS_D" sysctl -qw net.ipv4.ip_forward=1
    ip -n "$NS_D" addr add "$VIP/32" dev d0 2>/dev/null || true
    rm -f "$LAB_RUN/lvsd.yaml"
}

backend_stats() {
    LVSD_SOCKET=$LAB_RUN/lvsd.sock "$SWIFTLVS_BIN/lvsadm" -L -n --stats --exact 2>/dev/null \
        | awk -v t="$1" '/^TCP .*:80 / {print t ".lvs_conns " $3 " count"}'
}
