"""yamlio.with_key with a parent: `firmware.kconfig` of a product file set in place (what
`cmu610bsp config` writes), every other line as the user wrote it, comments included."""

from __future__ import annotations

import pytest
import yaml

from cmu610bsp.errors import BspError
from cmu610bsp.yamlio import with_key, yaml_value

PRODUCT = """\
# my line
name: mine
firmware:
  features: [inventory]   # what it does
  # the Kconfig settings
  kconfig:
    CONFIG_SHELL_HISTORY: false  # old
# after
extra_install: []
"""


def _kconfig(settings: dict[str, object]) -> str:
    return yaml_value(dict(sorted(settings.items())))


def test_a_nested_block_is_replaced_where_it_is() -> None:
    new = with_key(PRODUCT, "kconfig", _kconfig({"CONFIG_LOG": True, "CONFIG_X_SIZE": 4096}), parent="firmware")
    assert new == PRODUCT.replace("    CONFIG_SHELL_HISTORY: false  # old\n",
                                  "    CONFIG_LOG: true\n    CONFIG_X_SIZE: 4096  # old\n")
    assert yaml.safe_load(new)["firmware"] == {"features": ["inventory"], "kconfig": {"CONFIG_LOG": True, "CONFIG_X_SIZE": 4096}}


def test_an_absent_nested_key_joins_its_siblings_and_an_absent_parent_is_appended() -> None:
    without = PRODUCT.replace("  # the Kconfig settings\n  kconfig:\n    CONFIG_SHELL_HISTORY: false  # old\n", "")
    new = with_key(without, "kconfig", _kconfig({"CONFIG_LOG": True}), parent="firmware")
    assert new == without.replace("[inventory]   # what it does\n",
                                  "[inventory]   # what it does\n  kconfig:\n    CONFIG_LOG: true\n")
    bare = "name: mine\n"
    new = with_key(bare, "kconfig", _kconfig({"CONFIG_LOG": True}), parent="firmware")
    assert new == "name: mine\nfirmware:\n  kconfig:\n    CONFIG_LOG: true\n"
    # emptied: the settings written as an empty mapping, the key kept
    assert yaml.safe_load(with_key(PRODUCT, "kconfig", _kconfig({}), parent="firmware"))["firmware"]["kconfig"] == {}


def test_a_parent_in_flow_style_is_refused() -> None:
    with pytest.raises(BspError, match="firmware is not written as a block mapping"):
        with_key("firmware: {features: []}\n", "kconfig", _kconfig({"CONFIG_LOG": True}), parent="firmware")
