// The bpf(2) calls behind lvs-tunnel's XDP decapsulation: a counter map, loading a program that
// SwiftLVS assembles itself (LVSTunnel.XDPDecapProgram), attaching it to an interface through a
// BPF link (detached when the last fd closes, so a dead agent leaves nothing behind) and running
// it on test packets (BPF_PROG_TEST_RUN) for the tests.
#include "CLinuxNet.h"

#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long sys_bpf(int cmd, union bpf_attr *attr) {
    return syscall(__NR_bpf, cmd, attr, sizeof *attr);
}

int clinuxnet_bpf_counter_map(unsigned entries) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_type = BPF_MAP_TYPE_ARRAY;
    a.key_size = 4;
    a.value_size = 8;
    a.max_entries = entries;
    strncpy(a.map_name, "lvs_tun_count", sizeof a.map_name - 1);
    long fd = sys_bpf(BPF_MAP_CREATE, &a);
    return fd < 0 ? -errno : (int)fd;
}

int clinuxnet_bpf_counter_read(int map_fd, uint32_t key, uint64_t *value) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_fd = (uint32_t)map_fd;
    a.key = (uint64_t)(uintptr_t)&key;
    a.value = (uint64_t)(uintptr_t)value;
    return sys_bpf(BPF_MAP_LOOKUP_ELEM, &a) < 0 ? -errno : 0;
}

static long load(const uint64_t *insns, int count, char *log, unsigned log_size, unsigned level) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_XDP;
    a.insns = (uint64_t)(uintptr_t)insns;
    a.insn_cnt = (uint32_t)count;
    a.license = (uint64_t)(uintptr_t)"Dual MIT/GPL";
    strncpy(a.prog_name, "lvs_tun_decap", sizeof a.prog_name - 1);
    if (level) {
        a.log_buf = (uint64_t)(uintptr_t)log;
        a.log_size = log_size;
        a.log_level = level;
    }
    return sys_bpf(BPF_PROG_LOAD, &a);
}

int clinuxnet_bpf_xdp_load(const uint64_t *insns, int count, char *log, unsigned log_size) {
    if (log && log_size) log[0] = 0;
    long fd = load(insns, count, NULL, 0, 0);
    if (fd >= 0) return (int)fd;
    int e = errno;
    // Load once more with the verifier's log, so a refusal says why.
    if (log && log_size > 1 && (e == EINVAL || e == EACCES)) {
        long again = load(insns, count, log, log_size, 1);
        if (again >= 0) return (int)again;
    }
    return -e;
}

int clinuxnet_bpf_xdp_attach(int prog_fd, int ifindex, int generic) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.link_create.prog_fd = (uint32_t)prog_fd;
    a.link_create.target_ifindex = (uint32_t)ifindex;
    a.link_create.attach_type = BPF_XDP;
    a.link_create.flags = generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
    long fd = sys_bpf(BPF_LINK_CREATE, &a);
    return fd < 0 ? -errno : (int)fd;
}

int clinuxnet_bpf_xdp_test_run(int prog_fd, const void *in, unsigned in_size, void *out, unsigned *out_size,
                               uint32_t *action) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.test.prog_fd = (uint32_t)prog_fd;
    a.test.data_in = (uint64_t)(uintptr_t)in;
    a.test.data_size_in = in_size;
    a.test.data_out = (uint64_t)(uintptr_t)out;
    a.test.data_size_out = *out_size;
    a.test.repeat = 1;
    if (sys_bpf(BPF_PROG_TEST_RUN, &a) < 0) return -errno;
    *out_size = a.test.data_size_out;
    *action = a.test.retval;
    return 0;
}
