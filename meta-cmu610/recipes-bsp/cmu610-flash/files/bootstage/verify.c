/*
 * Is this slot's image valid, and why not: an MCUboot image as imgtool writes it, checked with
 * libsodium (SHA-256 over header, image and protected TLVs; Ed25519 over that digest, as
 * MCUboot's image_ed25519.c does). The image carries its public key (PUBKEY TLV, DER); the
 * key's SHA-256 must be one of the key slots of the keys partition (two: rotation), which
 * on the chip is OTP or read-only flash. Its protected TLVs carry the security counter and the
 * CMU610 boot TLV (hart, entry point); the header the RAM load address (IMAGE_F_RAM_LOAD).
 * Every number is read from flash a byte at a time: nothing in a slot is trusted to be aligned.
 *
 *   header (32 bytes)  0 magic 0x96f3b83d  4 load address  8 header size u16
 *                     10 protected TLV size u16  12 image size  16 flags  20 version  28 pad
 *   then the image, the protected TLV area (info 0x6908), the TLV area (info 0x6907).
 */
#include <stddef.h>
#include <stdint.h>

#include "cmu610_boot_config.h"
#include "image.h"
#include "crypto_hash_sha256.h"
#include "crypto_sign_ed25519.h"

#define IMAGE_MAGIC      0x96f3b83du
#define IMAGE_HEADER     32u
#define F_RAM_LOAD       0x20u
#define TLV_INFO         0x6907u
#define TLV_PROT_INFO    0x6908u
#define TLV_PUBKEY       0x02u
#define TLV_SHA256       0x10u
#define TLV_ED25519      0x24u
#define TLV_SEC_CNT      0x50u
/* SubjectPublicKeyInfo of an Ed25519 key: this prefix, then the 32-byte key (imgtool's PUBKEY) */
static const uint8_t ED25519_SPKI[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};

static uint32_t le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const uint8_t *p) { return le16(p) | le16(p + 2) << 16; }

static int same(const uint8_t *a, const uint8_t *b, uint32_t n)
{
    uint8_t d = 0;
    while (n--) d |= *a++ ^ *b++;
    return d == 0;
}

/* Where a TLV of `type` and `len` bytes sits in the area [at, end), or NULL. */
static const uint8_t *tlv(const uint8_t *at, const uint8_t *end, uint32_t type, uint32_t len)
{
    for (at += 4; at + 4 <= end; at += 4 + le16(at + 2)) {
        if (le16(at) == type && le16(at + 2) == len && at + 4 + len <= end) return at + 4;
    }
    return 0;
}

/* Whether the key (its DER bytes) is in one of the keys partition's slots. */
static int trusted(const uint8_t *der, uint32_t len)
{
    const uint8_t *keys = (const uint8_t *)(CMU610_FLASH_BASE + CMU610_KEYS_OFFSET);
    uint8_t digest[32];
    if (le32(keys) != CMU610_KEYS_MAGIC) return 0;
    crypto_hash_sha256(digest, der, len);
    for (uint32_t i = 0; i < CMU610_KEY_SLOTS; i++)
        if (same(keys + CMU610_KEYS_HASHES + 32 * i, digest, 32)) return 1;
    return 0;
}

const char *cmu610_verify(const struct cmu610_domain *d, const struct cmu610_slot *s, uint32_t hart,
                          struct cmu610_image *out)
{
    uint32_t area = s->size;        /* the caller's image area: an A/B slot less its trailer */
    const uint8_t *h = (const uint8_t *)(CMU610_FLASH_BASE + s->offset), *end = h + area;
    uint32_t hdr = le16(h + 8), prot = le16(h + 10), size = le32(h + 12), flags = le32(h + 16);
    uint8_t digest[32];

    if (le32(h) != IMAGE_MAGIC) return "bad magic (no signed image)";
    if (hdr < IMAGE_HEADER || hdr > area || size > area - hdr) return "image runs past the partition";
    const uint8_t *ptlv = h + hdr + size, *utlv = ptlv + prot;
    if (prot && (prot < 4 || prot > (uint32_t)(end - ptlv) || le16(ptlv) != TLV_PROT_INFO || le16(ptlv + 2) != prot))
        return "bad protected TLV area";
    if (utlv + 4 > end || le16(utlv) != TLV_INFO) return "no TLV area (truncated image?)";
    if (le16(utlv + 2) > (uint32_t)(end - utlv)) return "TLV area runs past the partition";
    const uint8_t *uend = utlv + le16(utlv + 2), *pend = ptlv + prot;

    const uint8_t *want = tlv(utlv, uend, TLV_SHA256, 32);
    if (!want) return "no SHA-256 TLV";
    crypto_hash_sha256(digest, h, (unsigned long long)(utlv - h));
    if (!same(digest, want, 32)) return "hash mismatch (header, image or protected TLVs changed)";
    const uint8_t *key = tlv(utlv, uend, TLV_PUBKEY, 44), *sig = tlv(utlv, uend, TLV_ED25519, 64);
    if (!key || !same(key, ED25519_SPKI, sizeof(ED25519_SPKI))) return "no Ed25519 public key TLV";
    if (!sig) return "no Ed25519 signature TLV";
    if (!trusted(key, 44)) return "signed with a key that is not in the keys partition";
    if (crypto_sign_ed25519_verify_detached(sig, digest, 32, key + sizeof(ED25519_SPKI)) != 0)
        return "bad signature";

    /* authentic from here on: what it claims must fit this domain */
    const uint8_t *cnt = prot ? tlv(ptlv, pend, TLV_SEC_CNT, 4) : 0, *boot = prot ? tlv(ptlv, pend, CMU610_TLV_BOOT, 8) : 0;
    if (!cnt || !boot) return "no security counter or boot TLV";
    if (flags != F_RAM_LOAD) return "unsupported image flags";
    uint32_t entry = le32(boot + 4), load = le32(h + 4);
    uint32_t stack_bottom = d->ram_base + d->ram_size - CMU610_BOOT_STACK;
    if (le32(boot) != hart) return "image is for another hart";
    if (load < d->ram_base || load > stack_bottom || size > stack_bottom - load) return "image does not fit the domain's RAM";
    if (entry < load || entry - load >= size) return "entry point outside the image";
    if (le32(cnt) < cmu610_otp_read(hart)) return "security counter below the anti-rollback counter (downgrade)";
    *out = (struct cmu610_image){h + hdr, load, entry, size, le32(cnt), h[20], h[21], (uint16_t)le16(h + 22)};
    return 0;
}
