#ifndef HEAP_USAGE_H
#define HEAP_USAGE_H
#include <stddef.h>

/// Bytes the C heap has handed out and not taken back (glibc's mallinfo2().uordblks):
/// what the benchmarks divide by a task count to get bytes retained per task.
size_t heap_bytes_in_use(void);

#endif
