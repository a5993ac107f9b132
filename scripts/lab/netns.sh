# Network-namespace lab for SwiftLVS (sourced by scripts/demo.sh and the end-to-end tests).
#
#   client  ${P}-c   c0  10.0.1.2/24 ---- d0 10.0.1.1/24   ${P}-d  director (lvsd; VIP 10.0.1.100 is
#                                                                   owned by its data plane)
#                                         d1 192.168.10.1/24 --- br0 in ${P}-sw
#   servers ${P}-rI  eth0 192.168.10.(1+I)/24, default via 192.168.10.1 ---/
#
# Every address lives inside namespaces this file creates; nothing touches the root namespace.
# lab_down deletes everything lab_up made, whatever state it is in.

LAB_VIP=10.0.1.100
# With LAB_IPV6=1 the lab is dual-stack: client fd00:1::2, director fd00:1::1 / fd00:10::1,
# server I fd00:10::(1+I), VIP6 fd00:1::100.
LAB_VIP6=fd00:1::100
LAB_CLIENT6=fd00:1::2
LAB_CLIENT=10.0.1.2
LAB_DIP_EXT=10.0.1.1
LAB_DIP_INT=192.168.10.1

lab_server_ip() { echo "192.168.10.$((1 + $1))"; }
lab_server_ip6() { echo "fd00:10::$((1 + $1))"; }

# lab_up PREFIX NSERVERS
lab_up() {
    local P=$1 N=$2 i
    lab_down "$P"
    ip netns add "$P-c"
    ip netns add "$P-d"
    ip netns add "$P-sw"
    for ns in "$P-c" "$P-d" "$P-sw"; do ip -n "$ns" link set lo up; done
    local v6=${LAB_IPV6:-0} off=1
    [ "$v6" = 1 ] && off=0
    ip netns exec "$P-d" sysctl -qw net.ipv4.ip_forward=0
    ip netns exec "$P-d" sysctl -qw net.ipv6.conf.all.forwarding=0
    ip netns exec "$P-d" sysctl -qw net.ipv6.conf.all.disable_ipv6=$off
    ip netns exec "$P-d" sysctl -qw net.ipv6.conf.default.disable_ipv6=$off
    ip netns exec "$P-c" sysctl -qw net.ipv6.conf.all.disable_ipv6=$off
    ip netns exec "$P-c" sysctl -qw net.ipv6.conf.default.disable_ipv6=$off

    ip link add c0 netns "$P-c" type veth peer name d0 netns "$P-d"
    ip -n "$P-c" addr add $LAB_CLIENT/24 dev c0
    ip -n "$P-d" addr add $LAB_DIP_EXT/24 dev d0
    if [ "$v6" = 1 ]; then
        ip -n "$P-c" addr add $LAB_CLIENT6/64 dev c0 nodad
        ip -n "$P-d" addr add fd00:1::1/64 dev d0 nodad
    fi

    ip -n "$P-sw" link add br0 type bridge
    ip -n "$P-sw" link set br0 up
    ip link add d1 netns "$P-d" type veth peer name sw-d netns "$P-sw"
    ip -n "$P-d" addr add $LAB_DIP_INT/24 dev d1
    [ "$v6" = 1 ] && ip -n "$P-d" addr add fd00:10::1/64 dev d1 nodad
    ip -n "$P-sw" link set sw-d master br0 up
    for i in $(seq "$N"); do
        ip netns add "$P-r$i"
        ip -n "$P-r$i" link set lo up
        ip netns exec "$P-r$i" sysctl -qw net.ipv6.conf.all.disable_ipv6=$off
        ip netns exec "$P-r$i" sysctl -qw net.ipv6.conf.default.disable_ipv6=$off
        ip link add eth0 netns "$P-r$i" type veth peer name "sw-r$i" netns "$P-sw"
        ip -n "$P-r$i" addr add "$(lab_server_ip "$i")/24" dev eth0
        [ "$v6" = 1 ] && ip -n "$P-r$i" addr add "$(lab_server_ip6 "$i")/64" dev eth0 nodad
        ip -n "$P-r$i" link set eth0 up
        ip -n "$P-r$i" route add default via $LAB_DIP_INT
        [ "$v6" = 1 ] && ip -n "$P-r$i" -6 route add default via fd00:10::1
        ip -n "$P-sw" link set "sw-r$i" master br0 up
    done
    ip -n "$P-c" link set c0 up
    ip -n "$P-d" link set d0 up
    ip -n "$P-d" link set d1 up
}

# lab_down PREFIX: kills every process left in the lab's namespaces, then deletes them.
lab_down() {
    local P=$1 ns
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$P-(c|d|sw|rt|r[0-9]+)$"); do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
    return 0
}

# lab_metric PORT NAME: the value of the Prometheus sample NAME (with its labels, as written) from
# the director's metrics endpoint 127.0.0.1:PORT in ${P}-d.
lab_metric() {
    ip netns exec "$P-d" curl -s -m 5 "http://127.0.0.1:$1/metrics" | awk -v k="$2" 'index($0, k) == 1 {print $2}'
}

# lab_expect_one_way PORT LABEL: calls the test's ok/bad on the director's frame counters (metrics
# on 127.0.0.1:PORT): replies bypass it (DR, TUN), so more than 1000 frames went to real servers
# and none to clients.
lab_expect_one_way() {
    local to_rs to_client
    to_rs=$(lab_metric "$1" 'lvs_forwarded_frames_total{direction="to_real_server"}')
    to_client=$(lab_metric "$1" 'lvs_forwarded_frames_total{direction="to_client"}')
    if [ -n "$to_rs" ] && [ "$to_rs" -gt 1000 ] && [ "$to_client" = 0 ]; then
        ok "only client-to-server frames cross the director: $to_rs to real servers, $to_client to clients"
    else
        bad "$2 frame counts" "to_real_server=$to_rs to_client=$to_client"
    fi
}

# lab_config PREFIX SOCKET SCHEDULER "W1 W2 ..." [extra YAML lines]: an lvsd configuration for
# the lab with one TCP service on the VIP port 80, real servers on 8080.
lab_config() {
    local P=$1 sock=$2 sched=$3 weights=$4 i=1 w
    echo "control_socket: $sock"
    echo "interfaces: [d0, d1]"
    echo "services:"
    echo "  - protocol: tcp"
    echo "    address: $LAB_VIP"
    echo "    port: 80"
    echo "    scheduler: $sched"
    echo "    real_servers:"
    for w in $weights; do
        echo "      - {address: $(lab_server_ip $i), port: 8080, weight: $w}"
        i=$((i + 1))
    done
}

# output_has REGEX COMMAND...: true when COMMAND succeeds and a line of its output matches REGEX
# (grep -E). Use it instead of `COMMAND | grep -q REGEX` in scripts with `set -o pipefail`: grep -q
# exits at the first match, and a COMMAND with more than a pipe buffer (64 KiB) of output still to
# write dies of SIGPIPE (status 141), so the pipeline fails although the line was there. An
# `lvsadm -L -n -c` listing right after a load test is several hundred KiB.
output_has() {
    local re=$1 out
    shift
    out=$("$@") || return 1
    grep -qE -- "$re" <<< "$out"
}

# wait_for COMMAND...: retries for up to 10 s.
wait_for() {
    local t
    for t in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}

# lab_flat_up PREFIX NSERVERS: one layer-2 segment (bridge in ${P}-sw) for VS/DR.
#   client 10.0.2.2, director d0 10.0.2.1 (its data plane owns the VIP 10.0.2.100), servers
#   10.0.2.(10+I) holding the VIP on lo with arp_ignore=1 / arp_announce=2, as DR real servers do.
# With LAB_IPV6=1 the segment is dual-stack too: client fd00:2::2, director fd00:2::1, server I
# fd00:2::(10+I) with the IPv6 VIP fd00:2::100 on lo (Linux answers neighbour solicitations only
# for addresses of the receiving interface, so no arp_ignore equivalent is needed).
LAB_FLAT_VIP=10.0.2.100
LAB_FLAT_VIP6=fd00:2::100
LAB_FLAT_CLIENT=10.0.2.2
lab_flat_server_ip() { echo "10.0.2.$((10 + $1))"; }
lab_flat_server_ip6() { echo "fd00:2::$((10 + $1))"; }
lab_flat_up() {
    local P=$1 N=$2 i v6=${LAB_IPV6:-0} off=1
    [ "$v6" = 1 ] && off=0
    lab_down "$P"
    ip netns add "$P-c"; ip netns add "$P-d"; ip netns add "$P-sw"
    for ns in "$P-c" "$P-d" "$P-sw"; do ip -n "$ns" link set lo up; done
    ip netns exec "$P-d" sysctl -qw net.ipv4.ip_forward=0
    ip netns exec "$P-d" sysctl -qw net.ipv6.conf.all.forwarding=0
    for ns in "$P-c" "$P-d"; do
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=$off
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=$off
    done
    ip -n "$P-sw" link add br0 type bridge
    ip -n "$P-sw" link set br0 up
    ip link add c0 netns "$P-c" type veth peer name sw-c netns "$P-sw"
    ip link add d0 netns "$P-d" type veth peer name sw-d netns "$P-sw"
    ip -n "$P-c" addr add $LAB_FLAT_CLIENT/24 dev c0
    ip -n "$P-d" addr add 10.0.2.1/24 dev d0
    if [ "$v6" = 1 ]; then
        ip -n "$P-c" addr add fd00:2::2/64 dev c0 nodad
        ip -n "$P-d" addr add fd00:2::1/64 dev d0 nodad
    fi
    for i in $(seq "$N"); do
        ip netns add "$P-r$i"
        ip -n "$P-r$i" link set lo up
        ip netns exec "$P-r$i" sysctl -qw net.ipv6.conf.all.disable_ipv6=$off
        ip netns exec "$P-r$i" sysctl -qw net.ipv6.conf.default.disable_ipv6=$off
        ip netns exec "$P-r$i" sysctl -qw net.ipv4.conf.all.arp_ignore=1
        ip netns exec "$P-r$i" sysctl -qw net.ipv4.conf.all.arp_announce=2
        ip link add eth0 netns "$P-r$i" type veth peer name "sw-r$i" netns "$P-sw"
        ip -n "$P-r$i" addr add "$(lab_flat_server_ip "$i")/24" dev eth0
        ip -n "$P-r$i" addr add $LAB_FLAT_VIP/32 dev lo
        if [ "$v6" = 1 ]; then
            ip -n "$P-r$i" addr add "$(lab_flat_server_ip6 "$i")/64" dev eth0 nodad
            ip -n "$P-r$i" addr add $LAB_FLAT_VIP6/128 dev lo nodad
        fi
        ip -n "$P-r$i" link set eth0 up
        ip -n "$P-sw" link set "sw-r$i" master br0 up
    done
    ip -n "$P-sw" link set sw-c master br0 up
    ip -n "$P-sw" link set sw-d master br0 up
    ip -n "$P-c" link set c0 up
    ip -n "$P-d" link set d0 up
}

# lab_tun_up PREFIX NSERVERS: one dual-stack layer-2 segment (bridge in ${P}-sw) for VS/TUN.
#   client 10.0.3.2 / fd00:3::2, director d0 10.0.3.1 / fd00:3::1 (its data plane owns the VIPs
#   10.0.3.100 and fd00:3::100), servers 10.0.3.(10+I) / fd00:3::(10+I) holding both VIPs on lo
#   (arp_ignore/arp_announce; IPv6 answers neighbour solicitations only for addresses of the
#   receiving interface), rp_filter off, replies straight to the client on the segment.
LAB_TUN_VIP=10.0.3.100
LAB_TUN_VIP6=fd00:3::100
LAB_TUN_CLIENT=10.0.3.2
LAB_TUN_CLIENT6=fd00:3::2
lab_tun_server_ip() { echo "10.0.3.$((10 + $1))"; }
lab_tun_server_ip6() { echo "fd00:3::$((10 + $1))"; }
lab_tun_up() {
    local P=$1 N=$2 i ns
    lab_down "$P"
    ip netns add "$P-c"; ip netns add "$P-d"; ip netns add "$P-sw"
    for ns in "$P-c" "$P-d" "$P-sw"; do ip -n "$ns" link set lo up; done
    ip netns exec "$P-d" sysctl -qw net.ipv4.ip_forward=0
    ip netns exec "$P-d" sysctl -qw net.ipv6.conf.all.forwarding=0
    ip -n "$P-sw" link add br0 type bridge
    ip -n "$P-sw" link set br0 up
    ip link add c0 netns "$P-c" type veth peer name sw-c netns "$P-sw"
    ip link add d0 netns "$P-d" type veth peer name sw-d netns "$P-sw"
    ip -n "$P-c" addr add $LAB_TUN_CLIENT/24 dev c0
    ip -n "$P-c" addr add $LAB_TUN_CLIENT6/64 dev c0 nodad
    ip -n "$P-d" addr add 10.0.3.1/24 dev d0
    ip -n "$P-d" addr add fd00:3::1/64 dev d0 nodad
    for i in $(seq "$N"); do
        ns="$P-r$i"
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1
        ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_announce=2
        ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0
        ip netns exec "$ns" sysctl -qw net.ipv4.conf.default.rp_filter=0
        ip link add eth0 netns "$ns" type veth peer name "sw-r$i" netns "$P-sw"
        ip -n "$ns" addr add "$(lab_tun_server_ip "$i")/24" dev eth0
        ip -n "$ns" addr add "$(lab_tun_server_ip6 "$i")/64" dev eth0 nodad
        ip -n "$ns" addr add $LAB_TUN_VIP/32 dev lo
        ip -n "$ns" addr add $LAB_TUN_VIP6/128 dev lo
        ip -n "$ns" link set eth0 up
        ip -n "$P-sw" link set "sw-r$i" master br0 up
    done
    ip -n "$P-sw" link set sw-c master br0 up
    ip -n "$P-sw" link set sw-d master br0 up
    ip -n "$P-c" link set c0 up
    ip -n "$P-d" link set d0 up
}
