"""The evaluation configuration: shipped defaults load, bad files are refused by name."""

import hashlib

import pytest

from engine.evaluation.config import (
    DEFAULT_PATH,
    ConfigError,
    load_config,
    parse_config,
)


def test_shipped_defaults_have_six_categories_and_record_their_hash():
    config = load_config(DEFAULT_PATH)
    assert [c.key for c in config.categories] == [
        "basic", "inspection", "faults", "dispatch", "service_desk", "documents"]
    assert config.sha256 == hashlib.sha256(DEFAULT_PATH.read_bytes()).hexdigest()
    assert config.version
    assert all(c.label_zh and c.label_en for c in config.categories)
    assert all(k.label_zh for c in config.categories for k in c.kpis)


MINIMAL = b"""
version = "t1"
total_pass_mark = 80
[[inputs]]
key = "a"
[[categories]]
key = "c"
weight = 1
pass_mark = 70
[[categories.kpis]]
key = "k"
input = "a"
direction = "%s"
target = %s
floor = %s
"""


def test_minimal_config_parses():
    config = parse_config(MINIMAL % (b"higher", b"1", b"0"))
    assert config.category("c").kpis[0].input == ("a",)


@pytest.mark.parametrize("direction,target,floor,message", [
    (b"up", b"1", b"0", "'direction' must be 'higher' or 'lower'"),
    (b"higher", b"0", b"1", "direction 'higher' needs target > floor"),
    (b"lower", b"1", b"0", "direction 'lower' needs target < floor"),
])
def test_bad_kpi_is_refused_naming_it(direction, target, floor, message):
    with pytest.raises(ConfigError) as err:
        parse_config(MINIMAL % (direction, target, floor), source="my.toml")
    assert message in str(err.value)
    assert "my.toml: categories[0] (c): kpis[0] (k)" in str(err.value)


def test_unknown_metric_and_input_are_refused():
    bad_metric = (MINIMAL % (b"higher", b"1", b"0")).replace(b'input = "a"', b'metric = "nope"')
    with pytest.raises(ConfigError, match="unknown metric 'nope'"):
        parse_config(bad_metric)
    bad_input = (MINIMAL % (b"higher", b"1", b"0")).replace(b'input = "a"', b'input = "b"')
    with pytest.raises(ConfigError, match="unknown input 'b'"):
        parse_config(bad_input)


def test_not_toml_is_refused():
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_config(b"version = ")
