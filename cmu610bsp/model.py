"""The typed model of the SoC and board descriptions, and loading them from YAML.

Shape checks (types, required fields, unknown keys, enumerations) live here as pydantic models;
cross-field rules (overlaps, ownership, secure-only blocks) live in `validate.py`. Both report
`Finding`s with the file and a field path such as `sensors[3].address`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from cmu610bsp.errors import BspError, Finding, field_path, shown
from cmu610bsp.text import Compatible, DtProperty, Grammar, Text, Token, check_kconfig_text
from cmu610bsp.yamlio import read_yaml

_SIZE_RE = re.compile(r"^\s*(0x[0-9a-fA-F]+|\d+)\s*([KM]i?B?)?\s*$")


def parse_size(value: Any) -> Any:
    """Accept 4096, "0x1000", "768K", "8M" (K and M are binary: KiB, MiB)."""
    if isinstance(value, bool):
        raise ValueError("expected a number or a size such as 768K")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        m = _SIZE_RE.match(value)
        if not m:
            raise ValueError(f"{shown(value)} is not a size (use 4096, 0x1000, 768K or 8M)")
        number = int(m.group(1), 0)
        unit = (m.group(2) or "").upper()[:1]
        return number * {"": 1, "K": 1024, "M": 1024 * 1024}[unit]
    raise ValueError("expected a number or a size such as 768K")


Size = Annotated[int, BeforeValidator(parse_size), Field(ge=0)]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
BoardName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*[a-z0-9]$")]
ProductLine = Literal["bigbmc", "littlebmc"]
DomainName = Literal["secure", "bmc"]

PeripheralKind = Literal[
    "uart", "i2c", "i3c", "adc", "gpio", "pwm", "tach", "watchdog", "ethernet",
    "flash-controller", "mailbox", "rot", "crypto", "otp", "keystore", "iopmp",
]


class Strict(BaseModel):
    # strict: YAML's `true` is not the hart number 1, nor "8" the integer 8 (sizes parse themselves);
    # no NaN or infinity (YAML's .nan, .inf, 1e400): no consumer has them (JSON has no such number)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def dt_label(name: str) -> str:
    """The devicetree label a free name becomes ('bmc-fw-a' -> 'bmc_fw_a'); two names that
    become one label make a tree dtc rejects, so validation compares labels, not names."""
    return re.sub(r"[^a-z0-9_]", "_", name.lower())


# ---------------------------------------------------------------- SoC
class Hart(Strict):
    id: int = Field(ge=0)
    core: Token
    compatible: list[Compatible] = Field(min_length=1)
    isa: Annotated[str, Field(pattern=r"^rv32[a-z0-9_]+$")]
    abi: Literal["ilp32", "ilp32f", "ilp32d", "ilp32e"]
    mcpu: Token | None = None
    clock_frequency: int = Field(gt=0)


class MemoryRegion(Strict):
    base: Size
    size: Size = Field(gt=0)


class InterruptControllers(Strict):
    plic_base: Size
    plic_size: Size
    plic_ndev: int = Field(gt=0, le=1023)
    plic_max_priority: int = Field(gt=0)
    clint_base: Size
    clint_size: Size


class Peripheral(Strict):
    kind: PeripheralKind
    compatible: Compatible
    base: Size
    size: Size = Field(gt=0)
    irq: int | None = Field(default=None, gt=0)
    secure_only: bool = False
    clock_frequency: int | None = None
    channels: int | None = Field(default=None, gt=0)
    ngpios: int | None = Field(default=None, gt=0, le=32)
    ncsi: bool = False


class QemuTwin(Strict):
    machine: Token
    smp: int = Field(ge=2)
    ram_mib: int = Field(gt=0)
    sram_base: Size
    psram_base: Size
    flash_base: Size
    uart_base: Size
    uart_size: Size
    uart_irq: int
    uart_clock_frequency: int
    timebase_frequency: int


class Soc(Strict):
    name: Name
    vendor: Name
    full_name: Text
    harts: list[Hart] = Field(min_length=2, max_length=2)
    timebase_frequency: int = Field(gt=0)
    pmp_slots: int = Field(ge=0)
    interrupts: InterruptControllers
    memory: dict[Literal["sram", "flash", "psram"], MemoryRegion]
    peripherals: dict[Name, Peripheral]
    qemu: QemuTwin


# ---------------------------------------------------------------- board
class MemorySlice(Strict):
    region: Literal["sram", "psram"]
    offset: Size
    size: Size = Field(gt=0)


class Domain(Strict):
    hart: int = Field(ge=0)
    firmware: Text
    console: Name
    memory: list[MemorySlice] = Field(min_length=1)
    peripherals: list[Name]
    # the security counter its signed image carries (MCUboot's SEC_CNT): raise it to make the
    # boot stage refuse older images once this one has run (mcuimage.py: the OTP holds 0-2047)
    security_counter: int = Field(0, ge=0, le=2047)


class Domains(Strict):
    secure: Domain
    bmc: Domain


class Partition(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")]
    offset: Size
    size: Size = Field(gt=0)
    owner: DomainName
    secure: bool = False
    read_only: bool = False
    role: Literal["boot", "firmware", "data"] = "data"   # what the boot stage finds there (flash.py)
    slot: Literal["a", "b"] | None = None                # A/B firmware slots


class Flash(Strict):
    partitions: list[Partition] = Field(min_length=1)


class Thresholds(Strict):
    critical_low: float | None = None
    warning_low: float | None = None
    warning_high: float | None = None
    critical_high: float | None = None


class Sensor(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    label: Text
    kind: Name
    bus: Name
    # an I2C address, an ADC channel, or an I3C target's static address (none: found by DAA)
    address: int | None = Field(default=None, ge=0)
    pid: int | None = Field(default=None, ge=0)               # an I3C target's provisioned ID
    assigned_address: int | None = Field(default=None, ge=0)  # the dynamic address to give it
    lvr: int | None = Field(default=None, ge=0)               # a legacy I2C device on I3C: its LVR
    thresholds: Thresholds = Thresholds()


class Fan(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    pwm: Name
    pwm_channel: int = Field(ge=0)
    tach: Name
    tach_channel: int = Field(ge=0)


class GpioLine(Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")]
    controller: Name
    line: int = Field(ge=0)
    role: Literal["power-button", "reset-button", "led", "presence", "power-good", "other"]
    active_low: bool = False


def check_hostname(value: str) -> str:
    """An RFC 1123 host name label (what OBMC_HOSTNAME becomes): 1 to 63 of a-z, 0-9 and '-',
    neither first nor last a '-'."""
    if len(value) > 63:
        raise ValueError(f"{shown(value)} is {len(value)} characters long: a host name has at most 63")
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", value):
        raise ValueError(f"{shown(value)} is not a host name: use a-z, 0-9 and '-', not first or last")
    return value


class Network(Strict):
    interface: Name
    mode: Literal["rgmii", "rmii", "ncsi"]
    hostname: Annotated[str, Grammar("hostname"), AfterValidator(check_hostname)]


class MctpWindow(Strict):
    """The RAM both harts reach that carries MCTP between them: a slice of the SoC's SRAM or PSRAM
    that no domain's memory covers (cmu610bsp/mctp.py)."""

    region: Literal["sram", "psram"]
    offset: Size
    size: Size = Field(gt=0)


class Mctp(Strict):
    """The two harts' MCTP endpoints: their EIDs and the shared window; each defaults when absent."""

    secure_eid: int | None = None
    bmc_eid: int | None = None
    window: MctpWindow | None = None


class Board(Strict):
    name: BoardName
    vendor: Name
    full_name: Text
    soc: Name
    product_lines: list[ProductLine] = Field(min_length=1)
    domains: Domains
    flash: Flash
    sensors: list[Sensor] = []
    fans: list[Fan] = []
    gpio_lines: list[GpioLine] = []
    network: Network | None = None
    mctp: Mctp = Mctp()


U = TypeVar("U", bound=str)
KconfigName = Annotated[str, Field(pattern=r"^CONFIG_[A-Z0-9_]+$")]
FeatureName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]
RecipeName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.+-]*$")]


GENERATED_KCONFIG = "CONFIG_CMU610_"
GENERATED_WHY = "CONFIG_CMU610_* is set from the description (a line's name, features and components), not by hand"


def _not_generated(value: dict[str, bool | int | str]) -> dict[str, bool | int | str]:
    taken = [k for k in value if k.startswith(GENERATED_KCONFIG)]
    if taken:
        raise ValueError(f"{', '.join(taken)}: {GENERATED_WHY}")
    return value


def _kconfig_value(value: bool | int | str) -> bool | int | str:
    return check_kconfig_text(value) if isinstance(value, str) else value


# a Kconfig setting: y/n, a number, or a string (its grammar: text.check_kconfig_text)
KconfigValue = Annotated[bool | int | str, Grammar("kconfig-text"), AfterValidator(_kconfig_value)]


# a firmware's Kconfig settings as a description gives them (CONFIG_CMU610_* refused: generated)
KconfigSettings = Annotated[dict[KconfigName, KconfigValue], AfterValidator(_not_generated)]


def unique(value: list[U]) -> list[U]:
    """A list's validator: every item once (names echoed sorted)."""
    twice = sorted({v for v in value if value.count(v) > 1})
    if twice:
        raise ValueError(f"listed twice: {', '.join(twice)}")
    return value


class ProductFirmware(Strict):
    """What the line's BMC-domain Zephyr firmware (hart 1) adds: Kconfig settings and named
    features, rendered as the line's Kconfig fragment of the BMC application. The secure
    firmware is the same for every line."""

    kconfig: KconfigSettings = {}
    features: Annotated[list[FeatureName], AfterValidator(unique)] = []
    # OpenBMC recipes whose code the line's BMC firmware is built with (cmu610bsp/components.py)
    openbmc: Annotated[list[RecipeName], AfterValidator(unique)] = []


class Product(Strict):
    """A product line: which unmodified OpenBMC features its image is built from."""

    name: ProductLine
    description: Text
    image: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]
    image_features: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]] = Field(min_length=1)
    extra_install: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.+-]*$")]] = []
    firmware: ProductFirmware = ProductFirmware()


class SensorKind(Strict):
    # i2c: an I2C part, on an I2C bus or as a legacy device on an I3C bus; i3c: an I3C target
    bus: Literal["i2c", "i3c", "adc"]
    compatible: Compatible
    entity_type: Token
    unit: Literal["temperature", "voltage", "current", "power"]
    addresses: list[int] = Field(default=[], max_length=2)
    lvr: int | None = Field(default=None, ge=0)   # an I2C part's LVR when it sits on an I3C bus
    dt_properties: dict[DtProperty, int] = {}
    # the Zephyr emulator that serves it on the QEMU twin: its own part's (a driver with an
    # emulator), or a stand-in of the same quantity (sensor_twin.py knows which it can drive)
    twin: Compatible | None = None


class Catalog(Strict):
    sensor_kinds: dict[Name, SensorKind]


# ---------------------------------------------------------------- loading
T = TypeVar("T", bound=BaseModel)


def parse_model(cls: type[T], data: Any, path: Path) -> T:
    """Validate `data` as `cls`, turning pydantic's errors into located findings."""
    if not isinstance(data, dict):
        raise BspError("invalid description", [Finding(str(path), "(top level)", "expected a mapping")])
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        findings = [
            Finding(str(path), field_path(tuple(err["loc"])), _reason(err)) for err in e.errors()
        ]
        raise BspError(f"{path}: invalid description", findings) from None


def _reason(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown field"
    if err["type"] == "literal_error":
        return f"{shown(err['input'])} is not allowed: {err['msg'].removeprefix('Input should be ')}"
    msg: str = err["msg"]
    return msg.removeprefix("Value error, ")


def load_soc(path: Path) -> Soc:
    return parse_model(Soc, read_yaml(path), path)


def load_board(path: Path) -> Board:
    return parse_model(Board, read_yaml(path), path)


def load_product(path: Path) -> Product:
    return parse_model(Product, read_yaml(path), path)


def load_catalog(path: Path) -> Catalog:
    return parse_model(Catalog, read_yaml(path), path)
