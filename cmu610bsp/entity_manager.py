"""entity-manager's configuration of a board (recipes-phosphor/configuration/files/<board>.json):
one Board entity exposing every sensor, with the Bus and Address (or Index) of its sensor view and
its thresholds under dbus-sensors' names. This decides; the template prints the JSON."""

from __future__ import annotations

from cmu610bsp.model import Board, Catalog, Soc, Thresholds
from cmu610bsp.sensors import sensor_views

# entity-manager threshold names (dbus-sensors) for our threshold fields.
_THRESHOLDS = (
    ("critical_high", "upper critical", "greater than", 1),
    ("warning_high", "upper non critical", "greater than", 0),
    ("warning_low", "lower non critical", "less than", 0),
    ("critical_low", "lower critical", "less than", 1),
)


def _thresholds(t: Thresholds) -> list[dict[str, object]]:
    out = []
    for field, name, direction, severity in _THRESHOLDS:
        value = getattr(t, field)
        if value is not None:
            out.append({"Direction": direction, "Name": name, "Severity": severity, "Value": value})
    return out


def configuration(board: Board, soc: Soc, catalog: Catalog) -> dict[str, object]:
    """The board's sensor inventory as an entity-manager configuration (one Board entity)."""
    exposes: list[dict[str, object]] = []
    for s in sensor_views(board, soc, catalog):
        rec: dict[str, object] = {"Name": s.label, "Type": s.kind.entity_type}
        if s.channel is not None:
            rec["Index"] = s.channel
            rec["ScaleFactor"] = 1.0
        else:
            rec["Bus"] = s.em_bus
            rec["Address"] = s.address
        thresholds = _thresholds(s.thresholds)
        if thresholds:
            rec["Thresholds"] = thresholds
        exposes.append(rec)
    return {
        "Exposes": exposes,
        "Name": board.full_name,
        "Probe": "TRUE",
        "Type": "Board",
    }
