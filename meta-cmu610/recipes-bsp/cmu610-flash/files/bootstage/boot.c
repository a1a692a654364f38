/*
 * CMU610 boot stage: runs in place from flash on both harts (they tell themselves apart by mhartid).
 * The secure hart is the root of trust. The BMC hart parks in its own RAM (flashprog.S) at once,
 * so that only the secure hart reads the flash while it writes it (the slots' trailers, the
 * anti-rollback counters). The secure hart waits for it, picks and verifies its own domain's
 * image (slots.c, verify.c: MCUboot images, Ed25519 with libsodium), copies it to its SRAM, then
 * picks the BMC domain's slot (A/B, trial, revert), verifies and copies that image, hands the BMC
 * hart its entry point in its mailbox (word 0: parked, word 1: entry point, at the bottom of the
 * BMC hart's boot stack area) with a CLINT software interrupt and waits for its answer, so the
 * two never write the console at once; then it jumps.
 * A refused image: "boot: <partition>: <reason>" on the UART; no good image for a domain: power off
 * with exit code 3 (the QEMU twin exits) or, where there is no power-off device, park the hart
 * (with no BMC image, the secure domain boots on and the BMC hart stays parked).
 * Every address comes from cmu610_boot_config.h, generated from the board description.
 */
#include <stdint.h>

#include "cmu610_boot_config.h"
#include "console.h"
#include "image.h"
#include "slots.h"

static const struct cmu610_domain secure = {"secure", CMU610_SECURE_RAM_BASE, CMU610_SECURE_RAM_SIZE,
                                            CMU610_SECURE_NSLOTS, {CMU610_SECURE_SLOTS}};
static const struct cmu610_domain bmc = {"bmc", CMU610_BMC_RAM_BASE, CMU610_BMC_RAM_SIZE, CMU610_BMC_NSLOTS,
                                         {CMU610_BMC_SLOTS}};

#define MSIP(hart) ((volatile uint32_t *)(CMU610_CLINT_BASE + 4 * (hart)))
#define MIP_MSIP (1u << 3)
/* The BMC hart's mailbox (parked flag, entry point) and parking code, at the bottom of its boot stack. */
#define MAILBOX ((volatile uint32_t *)(CMU610_BMC_STACK_TOP - CMU610_BOOT_STACK))
#define PARKING (CMU610_BMC_STACK_TOP - CMU610_BOOT_STACK + 16)

extern const char cmu610_park[], cmu610_park_end[];
typedef void park_fn(uint32_t hart, volatile uint32_t *mailbox, volatile uint32_t *msip, volatile uint32_t *answer);

static void stop(void)
{
    if (CMU610_POWEROFF_BASE) *(volatile uint32_t *)CMU610_POWEROFF_BASE = (3u << 16) | 0x3333;
    for (;;) __asm__ volatile("wfi");
}

static void copy(const struct cmu610_slot *s, uint32_t hart, const struct cmu610_image *img, int trial)
{
    memcpy((void *)img->load, img->data, img->size);
    __asm__ volatile("fence.i" ::: "memory");
    cmu610_puts("boot: ");
    cmu610_puts(s->name);
    cmu610_puts(trial ? ": ok, on trial until its firmware confirms it, version " : ": ok, version ");
    cmu610_putdec(img->major); cmu610_putc('.'); cmu610_putdec(img->minor); cmu610_putc('.'); cmu610_putdec(img->revision);
    cmu610_puts(", security counter ");
    cmu610_putdec(img->security_counter);
    cmu610_puts(", ");
    cmu610_puthex(img->size);
    cmu610_puts(" bytes to ");
    cmu610_puthex(img->load);
    cmu610_puts(", hart ");
    cmu610_putdec(hart);
    cmu610_puts("\r\n");
}

static void refused(const struct cmu610_domain *d)
{
    cmu610_puts("boot: no good image for the ");
    cmu610_puts(d->name);
    cmu610_puts(" domain: stopped\r\n");
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

/* The BMC hart: copy the parking code into its RAM and wait there; it never returns. */
static void park(uint32_t hart)
{
    const uint32_t *from = (const uint32_t *)(const void *)cmu610_park;
    uint32_t *to = (uint32_t *)PARKING;
    for (uint32_t i = 0; i < (uint32_t)(cmu610_park_end - cmu610_park) / 4; i++) to[i] = from[i];
    __asm__ volatile("fence.i" ::: "memory");
    ((park_fn *)(void *)to)(hart, MAILBOX, MSIP(hart), MSIP(CMU610_SECURE_HART));
    stop();
}

void boot_main(uint32_t hart)
{
    struct cmu610_image sec_img, bmc_img;
    int trial = 0;
    if (hart != CMU610_SECURE_HART) park(hart);
    while (MAILBOX[0] != 1) { }               /* the BMC hart runs from RAM before the flash is written */
    int s = cmu610_select(&secure, hart, &sec_img, &trial);
    if (s < 0) {
        refused(&secure);
        stop();
    }
    copy(&secure.slot[s], hart, &sec_img, trial);
    int b = cmu610_select(&bmc, CMU610_BMC_HART, &bmc_img, &trial);
    if (b < 0) {
        refused(&bmc);
        if (CMU610_POWEROFF_BASE) stop();
        jump(sec_img.entry, hart);            /* the secure domain boots on, the BMC hart stays parked */
    }
    copy(&bmc.slot[b], CMU610_BMC_HART, &bmc_img, trial);
    MAILBOX[1] = bmc_img.entry;
    __asm__ volatile("fence w, w" ::: "memory");
    *MSIP(CMU610_BMC_HART) = 1;               /* release the BMC hart ... */
    wait_for_msip(hart);                      /* ... and wait for its answer */
    jump(sec_img.entry, hart);
}
