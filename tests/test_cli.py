"""The natgym command: help lists commands, foundation commands run, bad input exits 2."""

import subprocess
import sys

from agents.cli import build_parser, main


def test_help_lists_commands():
    out = subprocess.run([sys.executable, "-m", "agents.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for name in build_parser()._subparsers._group_actions[0].choices:
        assert name in out.stdout


def test_zoo_and_rules(capsys):
    assert main(["zoo"]) == 0
    assert "DARTS" in capsys.readouterr().out
    assert main(["zoo", "NAT_DARTS"]) == 0
    out = capsys.readouterr().out
    assert "('none', 2)" in out and "('null', 2, 4)" in out
    assert main(["rules"]) == 0
    rows = {line.split()[0]: set(line.split()[1:]) for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows["conv_1x1"] == {"conv_1x1", "skip_connect", "null"} and len(rows) == 13


def test_bad_arch_is_a_clear_error(capsys):
    assert main(["zoo", "NAONet"]) == 2
    assert "conv_1x3_3x1" in capsys.readouterr().err
