"""The store's commands, encoded in parts (the constant head and a key's scopes once, the
rest per call), are byte for byte what encoding every argument each time gives."""

from __future__ import annotations

import hiredis

from gatewise.state.redis.script import NOT_HELD, Commands
from gatewise.state.ticket import Scope, Ticket

SHA, PREFIX = b"d661daee067c36bcdf99bc5956a75f0666829232", b"gatewise:"
KEY = Scope("key", "5d41402a", rpm=100, tpm=None, parallel=3, max_budget=1.5, period=1700,
            base_spend=0.25)
TEAM = Scope("team", "t-1", rpm=None, tpm=5000)


def whole(op: bytes, *args: object) -> bytes:
    return hiredis.pack_command((b"EVALSHA", SHA, 0, op, PREFIX, *args))  # type: ignore[no-any-return]


def test_commands_in_parts_are_the_whole_commands() -> None:
    commands = Commands(SHA, PREFIX)
    ticket = Ticket("c1", (KEY, TEAM), tokens=12, reserve=0.000123)
    for _ in range(2):  # encoded, then from the cache
        assert commands.acquire(1.5, b"inc1", "dep", 10, None, 7, None) == whole(
            b"acquire", 1.5, b"inc1", "dep", 10, b"", 7, 0, 0, 0, 0)
        assert commands.acquire(1.5, b"inc1", "dep", None, 20, 7, ticket) == whole(
            b"acquire", 1.5, b"inc1", "dep", b"", 20, 7, 12, 0.000123, 2, 1,
            b"key:5d41402a", b"100", b"", b"3", b"1.5", b"1700", b"0.25",
            b"team:t-1", b"", b"5000", b"", b"", b"0", b"0.0")
        ticket.cost, ticket.used_tokens = 0.002, 30
        assert commands.release(2.5, b"inc1", "dep", True, 0.25, False, 18, ticket,
                                b"inc0") == whole(
            b"release", 2.5, b"inc1", "dep", 1, 0.25, b"", 18, b"inc0", 12, 30, 0.000123,
            0.002, 2, b"key:5d41402a", b"1700", b"0.25", b"team:t-1", b"0", b"0.0")
        assert commands.release(2.5, b"inc1", "dep", False, None, True, 0, None,
                                NOT_HELD) == whole(b"release", 2.5, b"inc1", "dep", 0, b"",
                                                   b"1", 0)
        assert commands.settle(3.0, b"inc1", ticket, NOT_HELD) == whole(
            b"settle", 3.0, b"inc1", b"", 12, 30, 0.000123, 0.002, 2, b"key:5d41402a",
            b"1700", b"0.25", b"team:t-1", b"0", b"0.0")
    many = Ticket("c2", tuple(Scope("user", f"u{i}", rpm=i + 1) for i in range(3)), tokens=1)
    assert commands.acquire(1.0, b"i", "d", None, None, 1, many) == whole(
        b"acquire", 1.0, b"i", "d", b"", b"", 1, 1, 0.0, 3, 0,
        *[v for i in range(3) for v in (f"user:u{i}".encode(), str(i + 1).encode(), b"", b"",
                                         b"", b"0", b"0.0")])
