// Counts heap allocations made while counting is on, by interposing malloc and friends in the
// benchmark executable. Used to prove the packet path allocates nothing.
#ifndef CMALLOCCOUNTER_H
#define CMALLOCCOUNTER_H
#include <stdint.h>

void lvs_malloc_counting(int on);
uint64_t lvs_malloc_count(void);

#endif
