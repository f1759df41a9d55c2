"""Closing the terminal (SIGHUP) or SIGKILL: no child of `ioc demo` survives.

SIGTERM is covered at the end of test_demo_notifications; Ctrl-C (SIGINT) takes the same
handler as SIGHUP and SIGTERM (ioc.demo.STOP_SIGNALS).
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.demo.support import (
    Demo,
    alive,
    children_of,
    cmdlines,
    demo_ports,
    listening,
    wait_until,
)

CHILDREN = 5  # inbox, sim, collector, alerts, api


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGKILL],
                         ids=lambda s: s.name)
def test_no_child_outlives_the_demo(sig: signal.Signals, fresh_db_url: str,
                                    tmp_path: Path) -> None:
    demo = Demo.start(fresh_db_url, tmp_path)
    try:
        demo.wait_live()
        children = children_of(demo.proc.pid)
        assert len(children) == CHILDREN, cmdlines(list(children))
        assert listening(demo_ports(demo.base)) == demo_ports(demo.base)
        status = demo.stop(sig)
        if sig != signal.SIGKILL:
            assert status == 0, demo.output()[-2000:]
            assert "stopping" in demo.output()
        # after SIGKILL each child gets SIGTERM from the kernel and stops on its own
        try:
            wait_until(lambda: not alive(children), 60, f"the children to end after {sig.name}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {cmdlines(alive(children))}\n"
                                 f"{demo.output()[-3000:]}") from None
        wait_until(lambda: not listening(demo_ports(demo.base)), 10, "the ports to close")
    finally:
        demo.kill()
