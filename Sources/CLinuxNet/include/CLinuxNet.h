// Linux packet-socket definitions that Swift cannot see through Glibc: the AF_PACKET ring
// structures and constants, virtio_net_hdr for PACKET_VNET_HDR, and a few macro wrappers.
#ifndef CLINUXNET_H
#define CLINUXNET_H

#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <stddef.h>
#include <stdint.h>

/// TPACKET_ALIGN as a function (macros with arguments are not imported into Swift).
static inline size_t clinuxnet_tpacket_align(size_t x) { return TPACKET_ALIGN(x); }

/// Header length of a TPACKET_V2 frame (TPACKET2_HDRLEN is a macro over offsetof).
static inline size_t clinuxnet_tpacket2_hdrlen(void) { return TPACKET2_HDRLEN; }

/// ETH_P_ALL in network byte order, as socket(AF_PACKET, ..., proto) wants it.
static inline uint16_t clinuxnet_eth_p_all_be(void) { return __builtin_bswap16(ETH_P_ALL); }

#endif
