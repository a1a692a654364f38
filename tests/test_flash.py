"""cmu610bsp.flash on its own (no compiler, no QEMU): the layout, the overflow message, A/B
slots, the signed images and the keys partition, and the erased bytes, on a small table and on
the default board's."""

from __future__ import annotations

import hashlib

import pytest

from cmu610bsp import bootstage, flash, flash_layout, mcuimage, resources
from cmu610bsp.flash import FlashError
from cmu610bsp.model import load_board, load_catalog, load_soc
from flashimg import signing_key

K = 1024
TABLE = [
    flash.Partition("boot", 0, 4 * K, "boot", "secure", 0),
    flash.Partition("sec-fw", 4 * K, 8 * K, "firmware", "secure", 0),
    flash.Partition("keys", 12 * K, 4 * K, "data", "secure", 0),
    flash.Partition("bmc-a", 16 * K, 16 * K, "firmware", "bmc", 1, "a"),
    flash.Partition("bmc-b", 32 * K, 16 * K, "firmware", "bmc", 1, "b"),
]
SIZE = 64 * K
BOOT = b"\x6f\x00\x00\x00" * 8          # `j .` eight times


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> str:
    return signing_key(tmp_path_factory.mktemp("key") / "key.pem")


def images(secure: int = 1000, bmc: int = 3000) -> dict[str, flash.Image]:
    return {"secure": flash.Image(bytes(range(256)) * (secure // 256) + b"s" * (secure % 256), 0x80000000, 0x80000000, 0),
            "bmc": flash.Image(b"b" * bmc, 0x800C0000, 0x800C0010, 1)}


def test_fit_and_erased_bytes(key: str) -> None:
    img = flash.pack(TABLE, images(), SIZE, boot=BOOT, key=key)
    assert len(img) == SIZE
    assert img[:len(BOOT)] == BOOT
    sec = images()["secure"]
    assert img[4 * K + flash.HEADER_SIZE:4 * K + flash.HEADER_SIZE + len(sec.data)] == sec.data
    keys = mcuimage.keys_partition([mcuimage.key_hash(mcuimage.public_key(key))], 4 * K)
    assert img[12 * K:16 * K] == keys
    written = [(0, len(BOOT)), (4 * K, flash.OVERHEAD + 1000), (12 * K, 4 * K), (16 * K, flash.OVERHEAD + 3000),
               (32 * K, flash.OVERHEAD + 3000)]
    written += [(end - flash.TRAILER_SIZE, flash.TRAILER_SIZE) for end in (32 * K, 48 * K)]  # the A/B slots' trailers
    assert img[32 * K - flash.TRAILER_SIZE:32 * K] == flash.trailer()
    erased = bytearray(img)
    for start, n in written:
        erased[start:start + n] = b"\xff" * n
    assert erased == b"\xff" * SIZE       # everything not written is erased flash
    assert img[48 * K:] == b"\xff" * 16 * K


def test_a_and_b_slots_hold_the_same_image(key: str) -> None:
    img = flash.pack(TABLE, images(), SIZE, boot=BOOT, key=key)
    assert img[16 * K:32 * K] == img[32 * K:48 * K]
    entries = {e["partition"]: e for e in flash.manifest(TABLE, img)}
    assert entries["bmc-a"]["sha256"] == entries["bmc-b"]["sha256"]
    assert entries["bmc-a"]["slot"] == "a" and entries["bmc-b"]["slot"] == "b"


def test_overflow_names_the_partition_and_the_excess(key: str) -> None:
    with pytest.raises(FlashError) as info:
        flash.pack(TABLE, images(secure=8 * K), SIZE, boot=BOOT, key=key)
    assert str(info.value) == ("sec-fw: the secure image (8192 bytes + 212 of signed header and TLVs) does not fit: "
                               "8404 bytes in a 8192-byte partition, 212 bytes too many")
    with pytest.raises(FlashError, match=r"^boot: the boot stage does not fit: 4097 bytes in a 4096-byte partition, 1 bytes too"):
        flash.pack(TABLE, images(), SIZE, boot=b"\0" * (4 * K + 1), key=key)


def test_missing_and_stray_images_and_a_short_flash(key: str) -> None:
    with pytest.raises(FlashError, match=r"^bmc-a: no image given for the bmc domain \(have: secure\)$"):
        flash.pack(TABLE, {"secure": images()["secure"]}, SIZE, boot=BOOT, key=key)
    wrong_hart = {**images(), "bmc": flash.Image(b"b", 0x800C0000, 0x800C0000, 0)}
    with pytest.raises(FlashError, match=r"^bmc-a: the bmc image is for hart 0, the partition's domain runs on hart 1$"):
        flash.pack(TABLE, wrong_hart, SIZE, boot=BOOT, key=key)
    with pytest.raises(FlashError, match=r"^no firmware partition for the image of domain extra$"):
        flash.pack(TABLE, {**images(), "extra": images()["bmc"]}, SIZE, boot=BOOT, key=key)
    with pytest.raises(FlashError, match=r"^bmc-b: ends at 0xc000, past the end of the 0x8000-byte flash$"):
        flash.pack(TABLE, images(), 32 * K, boot=BOOT, key=key)
    with pytest.raises(FlashError, match=r"^no keys partition: the boot stage has no key to trust the images by$"):
        flash.pack([p for p in TABLE if p.name != "keys"], images(), SIZE, boot=BOOT, key=key)


def test_default_board_manifest(key: str) -> None:
    """The shipped board's table: 32 MiB, every partition listed with its domain and hart, the
    signed images verified against the keys partition's key."""
    table = flash_layout.partitions(load_board(resources.builtin_board()))
    img = flash.pack(table, images(), 32 * K * K, boot=BOOT, key=key)
    entries = flash.manifest(table, img)
    assert [(e["partition"], e["offset"], e["domain"], e["hart"]) for e in entries] == [
        ("secure-boot", 0, "secure", None), ("secure-fw", 0x40000, "secure", 0), ("keys", 0x200000, "secure", 0),
        ("bmc-fw-a", 0x400000, "bmc", 1), ("bmc-fw-b", 0xE00000, "bmc", 1), ("bmc-config", 0x1800000, "bmc", 1),
        ("bmc-log", 0x1C00000, "bmc", 1)]
    assert [e["erased"] for e in entries] == [False, False, False, False, False, True, True]
    for e in entries:
        start, size = e["offset"], e["size"]
        assert isinstance(start, int) and isinstance(size, int)
        assert e["sha256"] == hashlib.sha256(img[start:start + size]).hexdigest()
    key_sha256 = mcuimage.key_hash(mcuimage.public_key(key)).hex()
    image = entries[3]["image"]
    assert isinstance(image, dict)
    assert image == {"load_address": 0x800C0000, "entry": 0x800C0010, "size": 3000, "hart": 1, "security_counter": 0,
                     "sha256": hashlib.sha256(b"b" * 3000).hexdigest(), "version": None, "key_sha256": key_sha256,
                     "signed_sha256": image["signed_sha256"]}
    assert entries[2]["keys"] == {"key_sha256": [key_sha256], "anti_rollback": {"secure": 0, "bmc": 0}}


def test_boot_config_follows_the_description() -> None:
    """The boot stage's constants come from the board and SoC files, not from its C."""
    board = load_board(resources.builtin_board("cmu610-sled"))
    soc, catalog = load_soc(resources.builtin_soc()), load_catalog(resources.sensor_catalog())
    text = bootstage.config_header(board, soc, catalog)
    sram = {m.region: m for m in board.domains.bmc.memory}["sram"]
    assert f"#define CMU610_BMC_RAM_BASE {soc.qemu.sram_base + sram.offset:#x}\n" in text
    assert '#define CMU610_BMC_SLOTS {0x200000, 0xc00000, "bmc-fw-a", 1}, {0xe00000, 0xc00000, "bmc-fw-b", 1}\n' in text
    assert '#define CMU610_SECURE_SLOTS {0x20000, 0xe0000, "secure-fw", 0}\n' in text
    assert f"#define CMU610_FLASH_BASE {soc.qemu.flash_base:#x}\n" in text
    chip = bootstage.config_header(board, soc, catalog, twin=False)
    assert f"#define CMU610_UART_BASE {soc.peripherals['uart0'].base:#x}\n" in chip
    assert "#define CMU610_POWEROFF_BASE 0x0\n" in chip
