#include "CLinuxNet.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int clinuxnet_tun_open(const char *name, char *out_name, int *step) {
    *step = 0;
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    strncpy(ifr.ifr_name, name && name[0] ? name : "lvstun%d", IFNAMSIZ - 1);
    *step = 1;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    memcpy(out_name, ifr.ifr_name, IFNAMSIZ);
    *step = 2;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    struct ifreq up;
    memset(&up, 0, sizeof up);
    strncpy(up.ifr_name, ifr.ifr_name, IFNAMSIZ - 1);
    int r = ioctl(s, SIOCGIFFLAGS, &up);
    if (r == 0) {
        up.ifr_flags |= IFF_UP;
        r = ioctl(s, SIOCSIFFLAGS, &up);
    }
    int e = errno;
    close(s);
    if (r < 0) {
        close(fd);
        return -e;
    }
    return fd;
}

static volatile sig_atomic_t stop_flag = 0;
static void on_signal(int sig) { (void)sig; stop_flag = 1; }

void clinuxnet_stop_on_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int clinuxnet_stop_requested(void) { return stop_flag; }

int clinuxnet_tunnel_socket(int family, int protocol, int port) {
    int udp = protocol == IPPROTO_UDP;
    int fd = socket(family, (udp ? SOCK_DGRAM : SOCK_RAW) | SOCK_NONBLOCK | SOCK_CLOEXEC, udp ? 0 : protocol);
    if (fd < 0) return -errno;
    if (udp) {
        int off = 0, on = 1;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        struct sockaddr_in6 a;
        memset(&a, 0, sizeof a);
        a.sin6_family = AF_INET6;
        a.sin6_port = htons((uint16_t)port);
        a.sin6_addr = in6addr_any;
        if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
    }
    int big = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    return fd;
}

long clinuxnet_recv_from(int fd, void *buf, unsigned long len, uint8_t src16[16]) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    ssize_t n = recvfrom(fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
    memset(src16, 0, 16);
    if (ss.ss_family == AF_INET) {
        src16[10] = 0xff;
        src16[11] = 0xff;
        memcpy(src16 + 12, &((struct sockaddr_in *)&ss)->sin_addr, 4);
    } else if (ss.ss_family == AF_INET6) {
        memcpy(src16, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
    }
    return (long)n;
}
