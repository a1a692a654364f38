/* The boot stage has no C library: libsodium's SHA-256 includes this header for size_t only. */
#include <stddef.h>
