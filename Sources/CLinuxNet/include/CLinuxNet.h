// Linux packet-socket plumbing that Swift cannot reach through Glibc: the AF_PACKET ring setup
// (TPACKET_V2 with PACKET_VNET_HDR), batched transmit with sendmmsg, interface queries, and a few
// macro wrappers. Everything per frame stays in Swift; this file only makes system calls.
#ifndef CLINUXNET_H
#define CLINUXNET_H

#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <linux/virtio_net.h>
#include <stddef.h>
#include <stdint.h>

/// TPACKET_ALIGN as a function (macros with arguments are not imported into Swift).
static inline size_t clinuxnet_tpacket_align(size_t x) { return TPACKET_ALIGN(x); }

/// Header length of a TPACKET_V2 frame (TPACKET2_HDRLEN is a macro over offsetof).
static inline size_t clinuxnet_tpacket2_hdrlen(void) { return TPACKET2_HDRLEN; }

/// An AF_PACKET socket with a memory-mapped TPACKET_V2 receive ring, bound to one interface.
struct clinuxnet_ring {
    int fd;
    int ifindex;
    unsigned char *map;      // the ring: frame_nr frames of frame_size bytes
    size_t map_size;
    unsigned frame_size;
    unsigned frame_nr;
    int vnet_hdr;            // 1 when every frame (RX and TX) carries a struct virtio_net_hdr
};

/// Opens the ring on `ifname`. Returns 0, or -errno with `*step` naming the call that failed.
int clinuxnet_ring_open(const char *ifname, unsigned frame_size, unsigned frame_nr, int want_vnet_hdr,
                        int qdisc_bypass, struct clinuxnet_ring *ring, const char **step);
void clinuxnet_ring_close(struct clinuxnet_ring *ring);

/// One frame to send: `len` bytes at `base` (virtio_net_hdr included when the socket has one).
struct clinuxnet_tx {
    const void *base;
    size_t len;
};

/// Sends up to `n` frames with sendmmsg; returns how many were sent, or -errno.
int clinuxnet_send_batch(int fd, const struct clinuxnet_tx *frames, unsigned n);

/// Index, hardware address and MTU of an interface. Returns 0 or -errno.
int clinuxnet_if_info(const char *ifname, int *ifindex, uint8_t mac[6], int *mtu);

/// Up to `max` IPv4 addresses of an interface (network byte order) with their prefix lengths.
/// Returns how many, or -errno.
int clinuxnet_if_ipv4(const char *ifname, uint32_t *addrs, uint8_t *prefixes, int max);

/// Up to `max` IPv6 addresses of an interface (16 bytes each, network order) with their prefix
/// lengths, link-local ones included. Returns how many, or -errno.
int clinuxnet_if_ipv6(const char *ifname, uint8_t *addrs, uint8_t *prefixes, int max);

/// Blocks until one of `fds` (at most 63) is readable or `timeout_ms` passes. Returns a bit mask
/// of the readable ones (bit i for fds[i]; 0 on timeout), or -errno.
int64_t clinuxnet_poll_in(const int *fds, int n, int timeout_ms);

/// An eventfd for waking the worker (EFD_NONBLOCK); clinuxnet_wake / clinuxnet_drain use it.
int clinuxnet_eventfd(void);
void clinuxnet_wake(int fd);
void clinuxnet_drain(int fd);


// lvs-tunnel (the VS/TUN real-server agent).

/// Creates (or attaches to) the TUN device `name` (IFF_TUN | IFF_NO_PI, "" for a kernel-chosen
/// lvstun%d name), writes its name to `out_name` (IFNAMSIZ bytes) and sets it up. Returns the fd,
/// or -errno with `*step` naming what failed (0 open, 1 TUNSETIFF, 2 bringing the link up).
int clinuxnet_tun_open(const char *name, char *out_name, int *step);

/// Makes SIGINT and SIGTERM set a flag read by `clinuxnet_stop_requested` instead of killing.
void clinuxnet_stop_on_signals(void);
int clinuxnet_stop_requested(void);

/// A raw IPv4/IPv6 socket for `protocol`, or a UDP socket (protocol 17) bound to `port` on the
/// dual-stack wildcard address. Returns the fd or -errno.
int clinuxnet_tunnel_socket(int family, int protocol, int port);

/// recvfrom into `buf`; stores the source address (IPv4-mapped for IPv4) in `src16`. Returns the
/// byte count, 0 when nothing is waiting (non-blocking), or -errno.
long clinuxnet_recv_from(int fd, void *buf, unsigned long len, uint8_t src16[16]);

// XDP decapsulation (lvs-tunnel --xdp): see bpf.c.

/// A BPF array map of `entries` 64-bit counters (key: a 32-bit index). Returns the fd or -errno.
int clinuxnet_bpf_counter_map(unsigned entries);
/// Reads counter `key` of a map from clinuxnet_bpf_counter_map. Returns 0 or -errno.
int clinuxnet_bpf_counter_read(int map_fd, uint32_t key, uint64_t *value);
/// Loads `count` encoded instructions (struct bpf_insn, little-endian u64 each) as an XDP program.
/// Returns the fd, or -errno with the verifier's log in `log` when it refused the program.
int clinuxnet_bpf_xdp_load(const uint64_t *insns, int count, char *log, unsigned log_size);
/// Attaches an XDP program to interface `ifindex` through a BPF link, in the driver (native) or,
/// with `generic`, the generic (skb) mode. The program stays attached while the returned link fd
/// is open. Returns the fd or -errno (EBUSY: another XDP program is attached).
int clinuxnet_bpf_xdp_attach(int prog_fd, int ifindex, int generic);
/// Runs an XDP program once on a packet (BPF_PROG_TEST_RUN). `*out_size` is the room in `out` on
/// entry and the resulting packet's length on return. Returns 0 or -errno.
int clinuxnet_bpf_xdp_test_run(int prog_fd, const void *in, unsigned in_size, void *out, unsigned *out_size,
                               uint32_t *action);

#endif
