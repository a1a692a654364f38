/*
 * CMU610 boot stage: runs in place from flash on both harts (they tell themselves apart by mhartid).
 * The secure hart is the root of trust: it verifies the secure firmware, then the BMC firmware
 * (slot A, then slot B), with cmu610_verify() (verify.c: MCUboot images, Ed25519), copies each
 * to its domain's SRAM, hands the BMC hart its entry point in a word at the bottom of the BMC
 * hart's boot stack area, releases it with a CLINT software interrupt and waits for its answer
 * (so the two never write the console at once); then it jumps. The BMC hart verifies nothing.
 * A refused image: "boot: <partition>: <reason>" on the UART; with no valid image for a domain,
 * power off with exit code 3 (the QEMU twin exits) or, where there is no power-off device, park
 * (a refused BMC firmware on the chip: the secure domain boots on, the BMC hart stays parked).
 * Every address comes from cmu610_boot_config.h, generated from the board description.
 */
#include <stdint.h>

#include "cmu610_boot_config.h"
#include "image.h"

static const struct cmu610_domain secure = {"secure", CMU610_SECURE_RAM_BASE, CMU610_SECURE_RAM_SIZE, CMU610_SECURE_NSLOTS,
                                            {CMU610_SECURE_SLOTS}};
static const struct cmu610_domain bmc = {"bmc", CMU610_BMC_RAM_BASE, CMU610_BMC_RAM_SIZE, CMU610_BMC_NSLOTS, {CMU610_BMC_SLOTS}};

#define MSIP(hart) ((volatile uint32_t *)(CMU610_CLINT_BASE + 4 * (hart)))
#define MIP_MSIP (1u << 3)
#define BMC_ENTRY ((volatile uint32_t *)(CMU610_BMC_STACK_TOP - CMU610_BOOT_STACK))

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

static void putdec(uint32_t v)
{
    char buf[11], *p = buf + sizeof(buf) - 1;
    *p = 0;
    do *--p = (char)('0' + v % 10); while (v /= 10);
    puts_(p);
}

static void stop(void)
{
    if (CMU610_POWEROFF_BASE) *(volatile uint32_t *)CMU610_POWEROFF_BASE = (3u << 16) | 0x3333;
    for (;;) __asm__ volatile("wfi");
}

/* Verify and copy the image of a domain (its slots in order) for its hart; its entry point, or 0
 * if none is valid. */
static uint32_t load(const struct cmu610_domain *d, uint32_t hart)
{
    for (uint32_t i = 0; i < d->nslots; i++) {
        const struct cmu610_slot *s = &d->slot[i];
        struct cmu610_image img;
        const char *why = cmu610_verify(d, s, hart, &img);
        puts_("boot: ");
        puts_(s->name);
        if (why) {
            puts_(": ");
            puts_(why);
            puts_(i + 1 < d->nslots ? ", trying the next slot\r\n" : "\r\n");
            continue;
        }
        memcpy((void *)img.load, img.data, img.size);
        __asm__ volatile("fence.i" ::: "memory");
        puts_(": ok, version ");
        putdec(img.major); putc_('.'); putdec(img.minor); putc_('.'); putdec(img.revision);
        puts_(", security counter ");
        putdec(img.security_counter);
        puts_(", ");
        puthex(img.size);
        puts_(" bytes to ");
        puthex(img.load);
        puts_(", hart ");
        putdec(hart);
        puts_("\r\n");
        return img.entry;
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
        uint32_t bmc_entry = load(&bmc, CMU610_BMC_HART);
        if (!bmc_entry && CMU610_POWEROFF_BASE) stop();
        if (bmc_entry) {
            *BMC_ENTRY = bmc_entry;
            __asm__ volatile("fence rw, rw" ::: "memory");
            *MSIP(CMU610_BMC_HART) = 1;       /* release the BMC hart ... */
            wait_for_msip(hart);              /* ... and wait for its answer */
        }
        jump(entry, hart);
    } else {
        wait_for_msip(hart);
        uint32_t entry = *BMC_ENTRY;
        *MSIP(CMU610_SECURE_HART) = 1;
        jump(entry, hart);
    }
}
