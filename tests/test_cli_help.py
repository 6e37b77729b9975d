"""Every ``openfal`` command (and action) shows an example in its ``--help``, and the
listening options say what they do."""

from __future__ import annotations

import argparse

from openfal.cli.main import build_parser


def _parsers(parser: argparse.ArgumentParser, path: str = "openfal"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_every_command_has_an_example() -> None:
    missing = [path for path, p in _parsers(build_parser()) if "example" not in (p.epilog or "")]
    assert missing == []


def test_host_and_port_are_described() -> None:
    for path, parser in _parsers(build_parser()):
        for action in parser._actions:
            if {"--host", "--port"} & set(action.option_strings):
                assert action.help, f"{path} {action.option_strings[0]} has no help"
