"""`--shard i/n` splits targets by a stable hash: each target in exactly one shard."""

from __future__ import annotations

import argparse

import pytest

from collectors.cli import parse_shard
from collectors.scheduler import in_shard


def test_every_target_is_in_exactly_one_shard_and_shards_are_balanced() -> None:
    ids = [f"target-{i}" for i in range(3000)]
    owners = [[s for s in range(3) if in_shard(t, s, 3)] for t in ids]
    assert all(len(o) == 1 for o in owners)
    sizes = [sum(o == [s] for o in owners) for s in range(3)]
    assert min(sizes) > 900


def test_shard_of_a_target_never_changes_between_processes() -> None:
    # sha256-based, unlike hash() which is salted per process.
    assert [s for s in range(4) if in_shard("portal-health", s, 4)] == [3]


@pytest.mark.parametrize("text", ["2/2", "1", "-1/2", "a/b", "0/0"])
def test_bad_shard_is_refused_with_the_fix(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="0 <= i < n"):
        parse_shard(text)
