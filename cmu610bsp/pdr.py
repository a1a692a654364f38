"""The BMC's PLDM Platform Monitoring and Control (DSP0248, PLDM Type 2) repository, generated from
the description: one Numeric Sensor PDR (PDR type 2, DSP0248 Table 78) per sensor, in the
description's order, sensor ID and record handle 1, 2, ... . The bytes go into the BMC domain's
devicetree (`pdr` of each child of `cmu610_sensors`); the firmware adds them to libpldm's
repository (pldm_pdr_add) and decodes them with libpldm (decode_numeric_sensor_pdr_data) to read
and judge each sensor: no sensor fact is written in C.

Every reading is a signed 32-bit count of thousandths of the sensor's unit (unitModifier -3,
resolution 1, offset 0), and so are the thresholds (rangeFieldFormat sint32).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cmu610bsp.sensors import SensorView, milli

HEADER_VERSION = 1
NUMERIC_SENSOR_PDR = 2
SINT32 = 5                    # sensorDataSize and rangeFieldFormat: sint32
UNIT_MODIFIER = -3            # readings in thousandths of the base unit
ENTITY_SYSTEM_BOARD = 64      # DSP0249: every sensor is on the board the description describes
TERMINUS_HANDLE = 1
UPDATE_INTERVAL = 1.0         # seconds

# supportedThresholds bits (DSP0248 Table 78)
SUPPORTED = {"warning_high": 0, "critical_high": 1, "warning_low": 3, "critical_low": 4}
# rangeFieldSupport bits: nominalValue, normalMax, normalMin, criticalHigh, criticalLow
RANGE_NOMINAL, RANGE_NORMAL_MAX, RANGE_NORMAL_MIN, RANGE_CRITICAL_HIGH, RANGE_CRITICAL_LOW = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class Record:
    """One PDR of the repository: the sensor it describes and its bytes."""

    handle: int
    sensor_id: int
    name: str
    data: bytes


def numeric_sensor(view: SensorView, handle: int, sensor_id: int) -> bytes:
    """The sensor's Numeric Sensor PDR: the common header (recordHandle, PDRHeaderVersion,
    PDRType, recordChangeNumber, dataLength), then the body, little-endian."""
    t = view.thresholds
    supported = sum(1 << bit for name, bit in SUPPORTED.items() if getattr(t, name) is not None)
    ranges = 1 << RANGE_NOMINAL
    ranges |= (1 << RANGE_NORMAL_MAX) if t.warning_high is not None else 0
    ranges |= (1 << RANGE_NORMAL_MIN) if t.warning_low is not None else 0
    ranges |= (1 << RANGE_CRITICAL_HIGH) if t.critical_high is not None else 0
    ranges |= (1 << RANGE_CRITICAL_LOW) if t.critical_low is not None else 0
    low, high = view.readable

    def value(x: float | None) -> int:
        return milli(x) if x is not None else 0

    body = struct.pack(
        "<HHHHHBBBbBBBbBBBBBffHBBiBBffiiBB9i",
        TERMINUS_HANDLE, sensor_id, ENTITY_SYSTEM_BOARD, 1, 0,   # entity instance 1, container 0
        0, 0,                                  # sensorInit noInit, no auxiliary names PDR
        view.quantity.code, UNIT_MODIFIER, 0,  # baseUnit, unitModifier, rateUnit none
        0, 0, 0, 0, 0, 0,                      # base OEM unit handle, auxUnit, its modifier and rate, rel, aux OEM handle
        1, SINT32,                             # isLinear, sensorDataSize
        1.0, 0.0, 0, 0, 0,                     # resolution, offset, accuracy, plus/minus tolerance
        0,                                     # hysteresis
        supported, 0,                          # supportedThresholds, thresholdAndHysteresisVolatility
        0.0, UPDATE_INTERVAL,                  # stateTransitionInterval, updateInterval
        high, low,                             # maxReadable, minReadable
        SINT32, ranges,                        # rangeFieldFormat, rangeFieldSupport
        view.nominal, value(t.warning_high), value(t.warning_low),   # nominalValue, normalMax, normalMin
        value(t.warning_high), value(t.warning_low),                 # warningHigh, warningLow
        value(t.critical_high), value(t.critical_low),               # criticalHigh, criticalLow
        0, 0,                                                        # fatalHigh, fatalLow
    )
    head = struct.pack("<IBBHH", handle, HEADER_VERSION, NUMERIC_SENSOR_PDR, 0, len(body))
    return head + body


def repository(views: list[SensorView]) -> list[Record]:
    """One record per sensor, in the description's order."""
    return [Record(i, i, v.name, numeric_sensor(v, i, i)) for i, v in enumerate(views, start=1)]
