"""commands: every command parses through the one adapter, strictly; an unknown type or field is refused."""

from __future__ import annotations

import json
import typing

import pytest
from pydantic import ValidationError

from stt_dictation.protocol import commands as c
from stt_dictation.protocol.commands import COMMAND_ADAPTER, COMMAND_TYPES, GetHistory, Subscribe, Transcribe
from stt_dictation.protocol.wire import COMMAND_NAMES, PROTOCOL_VERSION

VALID = {
    "toggle": {}, "start": {}, "stop": {}, "cancel": {}, "status": {}, "paste": {}, "shutdown": {},
    "subscribe": {"history": 5}, "history": {"limit": 3}, "transcribe": {"paths": ["/tmp/a.wav"]},
}  # fmt: skip


def test_the_samples_cover_every_command():
    assert set(VALID) == COMMAND_TYPES


@pytest.mark.parametrize("kind", sorted(VALID))
def test_every_command_validates_and_dispatches_on_type(kind):
    cmd = COMMAND_ADAPTER.validate_json(json.dumps({"type": kind, **VALID[kind]}))
    assert cmd.type == kind and cmd.v == PROTOCOL_VERSION
    assert COMMAND_ADAPTER.validate_json(cmd.model_dump_json()) == cmd


@pytest.mark.parametrize(
    "line",
    [
        '{"type": "explode"}',
        '{"type": "toggle", "extra": 1}',
        '{"type": "history", "limit": "5"}',  # strict: a string is not a number
        '{"type": "history", "limit": 0}',
        '{"type": "subscribe", "history": 1001}',
        '{"type": "transcribe", "paths": []}',
        '{"type": "transcribe", "paths": [""]}',
        '{"type": "toggle", "v": true}',
        '{"v": 1}',
    ],
)
def test_bad_commands_are_refused(line):
    with pytest.raises(ValidationError):
        COMMAND_ADAPTER.validate_json(line)


def test_defaults_and_bounds():
    assert GetHistory().limit == 20 and Subscribe().history == 0
    assert len(Transcribe(paths=["/a"] * 64).paths) == 64
    with pytest.raises(ValidationError):
        Transcribe(paths=["/a"] * 65)


def _union_members(annotated) -> set[type]:
    union = typing.get_args(annotated)[0]
    return set(typing.get_args(union))


def test_the_command_union_is_the_shared_list_of_command_names():
    tags = [model.model_fields["type"].default for model in _union_members(c.Command)]
    assert sorted(tags) == sorted(COMMAND_NAMES) and len(tags) == len(set(tags))
    assert c.COMMAND_TYPES == set(COMMAND_NAMES)


def test_every_command_has_a_version_field_defaulting_to_current():
    assert PROTOCOL_VERSION == 1
    for model in _union_members(c.Command):
        cmd = model.model_validate({"type": model.model_fields["type"].default, **({"paths": ["/x"]} if model is c.Transcribe else {})})
        assert cmd.v == PROTOCOL_VERSION
        assert json.loads(cmd.model_dump_json())["v"] == PROTOCOL_VERSION
