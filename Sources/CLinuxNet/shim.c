#include "CLinuxNet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

int clinuxnet_ring_open(const char *ifname, unsigned frame_size, unsigned frame_nr, int want_vnet_hdr,
                        int qdisc_bypass, struct clinuxnet_ring *ring, const char **step) {
    memset(ring, 0, sizeof(*ring));
    ring->fd = -1;
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0) { *step = "socket(AF_PACKET)"; return -errno; }
    int ifindex = (int)if_nametoindex(ifname);
    if (ifindex == 0) { *step = "if_nametoindex"; int e = errno; close(fd); return -e; }
    int v = TPACKET_V2;
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0) { *step = "PACKET_VERSION"; goto fail; }
    if (want_vnet_hdr) {
        int on = 1;
        if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &on, sizeof(on)) < 0) { *step = "PACKET_VNET_HDR"; goto fail; }
        ring->vnet_hdr = 1;
    }
    // Our own transmissions must not come back to us through the tap.
    int on = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &on, sizeof(on)) < 0) { *step = "PACKET_IGNORE_OUTGOING"; goto fail; }
    // Optionally straight to the driver, skipping the qdisc (the caller measures which is faster).
    if (qdisc_bypass && setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &on, sizeof(on)) < 0) { *step = "PACKET_QDISC_BYPASS"; goto fail; }
    struct tpacket_req req;
    memset(&req, 0, sizeof(req));
    req.tp_block_size = frame_size;
    req.tp_block_nr = frame_nr;
    req.tp_frame_size = frame_size;
    req.tp_frame_nr = frame_nr;
    if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0) { *step = "PACKET_RX_RING"; goto fail; }
    size_t size = (size_t)frame_size * frame_nr;
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED | MAP_POPULATE, fd, 0);
    if (map == MAP_FAILED) map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) { *step = "mmap"; goto fail; }
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = ifindex;
    if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) { *step = "bind"; int e = errno; munmap(map, size); close(fd); return -e; }
    ring->fd = fd;
    ring->ifindex = ifindex;
    ring->map = map;
    ring->map_size = size;
    ring->frame_size = frame_size;
    ring->frame_nr = frame_nr;
    return 0;
fail:;
    int e = errno;
    close(fd);
    return -e;
}

void clinuxnet_ring_close(struct clinuxnet_ring *ring) {
    if (ring->map) munmap(ring->map, ring->map_size);
    if (ring->fd >= 0) close(ring->fd);
    ring->map = NULL;
    ring->fd = -1;
}

int clinuxnet_send_batch(int fd, const struct clinuxnet_tx *frames, unsigned n) {
    struct mmsghdr msgs[256];
    struct iovec iov[256];
    if (n > 256) n = 256;
    for (unsigned i = 0; i < n; i++) {
        iov[i].iov_base = (void *)frames[i].base;
        iov[i].iov_len = frames[i].len;
        memset(&msgs[i], 0, sizeof(msgs[i]));
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    unsigned sent = 0;
    while (sent < n) {
        int r = sendmmsg(fd, msgs + sent, n - sent, MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EINTR) continue;
            // A frame the kernel refuses (e.g. too large) must not block the rest: skip it.
            if (errno == EMSGSIZE || errno == EINVAL) { sent++; continue; }
            return sent > 0 ? (int)sent : -errno;
        }
        sent += (unsigned)r;
    }
    return (int)sent;
}

int clinuxnet_if_info(const char *ifname, int *ifindex, uint8_t mac[6], int *mtu) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) { int e = errno; close(fd); return -e; }
    *ifindex = ifr.ifr_ifindex;
    if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) { int e = errno; close(fd); return -e; }
    memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    if (ioctl(fd, SIOCGIFMTU, &ifr) < 0) { int e = errno; close(fd); return -e; }
    *mtu = ifr.ifr_mtu;
    close(fd);
    return 0;
}

int clinuxnet_if_ipv4(const char *ifname, uint32_t *addrs, uint8_t *prefixes, int max) {
    struct ifaddrs *list;
    if (getifaddrs(&list) < 0) return -errno;
    int n = 0;
    for (struct ifaddrs *a = list; a && n < max; a = a->ifa_next) {
        if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || strcmp(a->ifa_name, ifname) != 0) continue;
        addrs[n] = ((struct sockaddr_in *)a->ifa_addr)->sin_addr.s_addr;
        uint32_t mask = a->ifa_netmask ? ntohl(((struct sockaddr_in *)a->ifa_netmask)->sin_addr.s_addr) : 0xffffffffu;
        prefixes[n] = (uint8_t)__builtin_popcount(mask);
        n++;
    }
    freeifaddrs(list);
    return n;
}

int clinuxnet_if_ipv6(const char *ifname, uint8_t *addrs, uint8_t *prefixes, int max) {
    struct ifaddrs *list;
    if (getifaddrs(&list) < 0) return -errno;
    int n = 0;
    for (struct ifaddrs *a = list; a && n < max; a = a->ifa_next) {
        if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET6 || strcmp(a->ifa_name, ifname) != 0) continue;
        memcpy(addrs + 16 * n, &((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr, 16);
        int bits = 0;
        if (a->ifa_netmask) {
            const uint8_t *m = ((struct sockaddr_in6 *)a->ifa_netmask)->sin6_addr.s6_addr;
            for (int i = 0; i < 16; i++) bits += __builtin_popcount(m[i]);
        } else {
            bits = 128;
        }
        prefixes[n] = (uint8_t)bits;
        n++;
    }
    freeifaddrs(list);
    return n;
}

int64_t clinuxnet_poll_in(const int *fds, int n, int timeout_ms) {
    struct pollfd p[63];
    if (n > 63) n = 63;
    for (int i = 0; i < n; i++) { p[i].fd = fds[i]; p[i].events = POLLIN; p[i].revents = 0; }
    int r = poll(p, (nfds_t)n, timeout_ms);
    if (r < 0) return -errno;
    int64_t mask = 0;
    for (int i = 0; i < n; i++) if (p[i].revents) mask |= (int64_t)1 << i;
    return mask;
}

int clinuxnet_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }
void clinuxnet_wake(int fd) { uint64_t one = 1; ssize_t r = write(fd, &one, sizeof(one)); (void)r; }
void clinuxnet_drain(int fd) { uint64_t v; ssize_t r = read(fd, &v, sizeof(v)); (void)r; }
