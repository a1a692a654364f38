/*
 * CMU610 boot stage: runs in place from flash on both harts (they tell themselves apart by mhartid).
 * The secure hart checks its domain's image (header magic, CRC, version, hart, size, RAM window,
 * entry, sha256), copies it to its domain's SRAM, releases the BMC hart with a CLINT software
 * interrupt and waits for its answer, so the two never write the console at once; then it jumps.
 * The BMC hart sleeps until released, does the same with slot A, then slot B, answers and jumps.
 * A refused image: "boot: <partition>: <reason>" on the UART, then power off with exit code 3
 * (the QEMU twin exits) or, where there is no power-off device, park the hart (a refused BMC
 * image still answers the secure hart, whose domain boots on).
 * Every address comes from cmu610_boot_config.h, generated from the board description.
 */
#include <stdint.h>

#include "cmu610_boot_config.h"
#include "sha256.h"

struct slot { uint32_t offset, size; const char *name; };
struct domain { const char *name; uint32_t ram_base, ram_size, nslots; struct slot slot[2]; };
struct header {
    uint32_t magic;
    uint16_t version, header_size;
    uint32_t load, entry, size, hart;
    uint8_t sha256[32];
    uint32_t reserved, crc;
};
_Static_assert(sizeof(struct header) == CMU610_HEADER_SIZE, "header layout differs from cmu610bsp/flash.py");

static const struct domain secure = {"secure", CMU610_SECURE_RAM_BASE, CMU610_SECURE_RAM_SIZE, CMU610_SECURE_NSLOTS,
                                     {CMU610_SECURE_SLOTS}};
static const struct domain bmc = {"bmc", CMU610_BMC_RAM_BASE, CMU610_BMC_RAM_SIZE, CMU610_BMC_NSLOTS, {CMU610_BMC_SLOTS}};

/* No libc, but GCC may still call these for aggregate initialisers and copies. */
void *memcpy(void *dst, const void *src, unsigned long n);
void *memset(void *dst, int c, unsigned long n);
void *memcpy(void *dst, const void *src, unsigned long n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--) *d++ = *s++;
    return dst;
}
void *memset(void *dst, int c, unsigned long n)
{
    uint8_t *d = dst;
    while (n--) *d++ = (uint8_t)c;
    return dst;
}

#define MSIP(hart) ((volatile uint32_t *)(CMU610_CLINT_BASE + 4 * (hart)))
#define MIP_MSIP (1u << 3)

static void putc_(char c)
{
    volatile uint8_t *uart = (volatile uint8_t *)CMU610_UART_BASE;
    while (!(uart[5] & 0x20)) { }
    uart[0] = (uint8_t)c;
}

static void puts_(const char *s) { while (*s) putc_(*s++); }

static void puthex(uint32_t v)
{
    puts_("0x");
    for (int i = 28; i >= 0; i -= 4) putc_("0123456789abcdef"[(v >> i) & 15]);
}

static uint32_t crc32(const uint8_t *p, uint32_t n)
{
    uint32_t c = 0xffffffffu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & -(c & 1));
    }
    return ~c;
}

/* NULL if the image in this slot may run on this hart, else why not. */
static const char *check(const struct domain *d, const struct slot *s, uint32_t hart, const struct header *h)
{
    uint8_t digest[32];
    uint32_t stack_bottom = d->ram_base + d->ram_size - CMU610_BOOT_STACK;
    if (h->magic != CMU610_HEADER_MAGIC) return "bad magic (no image header)";
    if (h->crc != crc32((const uint8_t *)h, CMU610_HEADER_SIZE - 4)) return "header CRC mismatch";
    if (h->version != CMU610_HEADER_VERSION || h->header_size != CMU610_HEADER_SIZE) return "unknown header version";
    if (h->hart != hart) return "image is for another hart";
    if (h->size > s->size - CMU610_HEADER_SIZE) return "image size runs past the partition";
    if (h->load < d->ram_base || h->load > stack_bottom || h->size > stack_bottom - h->load)
        return "image does not fit the domain's RAM";
    if (h->entry < h->load || h->entry - h->load >= h->size) return "entry point outside the image";
    sha256((const uint8_t *)(h + 1), h->size, digest);
    for (int i = 0; i < 32; i++)
        if (digest[i] != h->sha256[i]) return "sha256 mismatch";
    return 0;
}

static void stop(void)
{
    if (CMU610_POWEROFF_BASE) *(volatile uint32_t *)CMU610_POWEROFF_BASE = (3u << 16) | 0x3333;
    for (;;) __asm__ volatile("wfi");
}

/* Check and copy this hart's image (slot A, then slot B); its entry point, or 0 if none is good. */
static uint32_t load(const struct domain *d, uint32_t hart)
{
    for (uint32_t i = 0; i < d->nslots; i++) {
        const struct slot *s = &d->slot[i];
        const struct header *h = (const struct header *)(CMU610_FLASH_BASE + s->offset);
        const char *why = check(d, s, hart, h);
        puts_("boot: ");
        puts_(s->name);
        if (why) {
            puts_(": ");
            puts_(why);
            puts_(i + 1 < d->nslots ? ", trying the next slot\r\n" : "\r\n");
            continue;
        }
        memcpy((void *)h->load, h + 1, h->size);
        __asm__ volatile("fence.i" ::: "memory");
        puts_(": ok, ");
        puthex(h->size);
        puts_(" bytes to ");
        puthex(h->load);
        puts_(", hart ");
        putc_((char)('0' + hart));
        puts_("\r\n");
        return h->entry;
    }
    puts_("boot: no good image for the ");
    puts_(d->name);
    puts_(" domain: stopped\r\n");
    return 0;
}

static void wait_for_msip(uint32_t hart)
{
    uint32_t mip;
    __asm__ volatile("csrs mie, %0" :: "r"(MIP_MSIP));
    for (;;) {
        __asm__ volatile("csrr %0, mip" : "=r"(mip));
        if (mip & MIP_MSIP) break;
        __asm__ volatile("wfi");
    }
    *MSIP(hart) = 0;
    __asm__ volatile("csrc mie, %0" :: "r"(MIP_MSIP));
}

static void jump(uint32_t entry, uint32_t hart)
{
    ((void (*)(uint32_t))entry)(hart);
    stop();
}

void boot_main(uint32_t hart)
{
    if (hart == CMU610_SECURE_HART) {
        uint32_t entry = load(&secure, hart);
        if (!entry) stop();
        *MSIP(CMU610_BMC_HART) = 1;           /* release the BMC hart ... */
        wait_for_msip(hart);                  /* ... and wait for its answer */
        jump(entry, hart);
    } else {
        wait_for_msip(hart);
        uint32_t entry = load(&bmc, hart);
        if (!entry && !CMU610_POWEROFF_BASE) *MSIP(CMU610_SECURE_HART) = 1; /* the secure domain boots on */
        if (!entry) stop();
        *MSIP(CMU610_SECURE_HART) = 1;
        jump(entry, hart);
    }
}
