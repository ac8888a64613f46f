"""Connecting to Ray: a private instance on this machine by default, or a running cluster.

ray.address unset     start Ray here, on loopback, with as many CPUs as asked
ray.address=auto      join the cluster started on this machine with `ray start --head`
ray.address=HOST:PORT join a cluster's head node (every node needs this package installed)
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass

AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"
log = logging.getLogger(__name__)
RAYLET_DEATH = ("worker died or was killed", "so the task will be retried")  # the raylet's reports


def _auth_notice(record: logging.LogRecord) -> bool:
    """False for Ray's 'Token authentication is enabled for this Ray cluster' notice."""
    return "Token authentication is enabled for this Ray cluster" not in record.getMessage()


def _worker_deaths_as_one_line() -> None:
    """Ray's driver prints the raylet's report of a dead worker as raw, coloured lines on stdout (its
    error listener calls `ray._private.worker.print_to_stdstream`, whatever log_to_driver says). Our
    actors restart and their tasks are retried, so the report becomes one warning of ours; every other
    message still goes to Ray's printer. Ray offers no public hook for this: the printer is replaced in
    its module (looked up at each call), and left alone when a Ray version lacks it."""
    import ray._private.worker as ray_worker

    original = getattr(ray_worker, "print_to_stdstream", None)
    if original is None or getattr(original, "bcz", False):
        return

    said = [0.0]  # when our line was last printed: a death and its retry notice are one event

    def printer(data: dict, ignore_prefix: bool) -> None:
        text = " ".join(data.get("lines", [])).lower()
        if data.get("pid") != "raylet" or not any(m in text for m in RAYLET_DEATH):
            original(data, ignore_prefix)
        elif time.monotonic() - said[0] > 5.0:
            said[0] = time.monotonic()
            log.warning("a Ray worker died; its episode is retried on a restarted worker")

    printer.bcz = True  # type: ignore[attr-defined]
    ray_worker.print_to_stdstream = printer


class ClusterError(ConnectionError):
    """Ray could not be reached or started; the message says where and what to do."""


@dataclass
class RayConfig:
    address: str | None = None  # None: start Ray on this machine; "auto"; "host:port"; "ray://host:port"
    num_cpus: int | None = None  # CPUs of a Ray started here (default: the number of workers)


def check_address(config: RayConfig) -> None:
    """Fail fast, before any work or output, when a given cluster address cannot be reached."""
    if config.address and config.address != "auto":
        _probe(config.address)


def _probe(address: str) -> None:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"ray.address={address!r} is not HOST:PORT, 'auto', or unset (start Ray here)")
    try:
        with socket.create_connection((host, int(port)), timeout=3):
            pass
    except OSError as e:
        raise ClusterError(
            f"Ray address {address} is unreachable ({e.strerror or e}); start a cluster with "
            "`ray start --head` and pass ray.address=auto, or leave ray.address unset to start Ray here"
        ) from e


def connect(config: RayConfig, workers: int) -> bool:
    """Initialise Ray; returns True when this call started a private instance (to shut down later)."""
    import ray

    check_address(config)
    if ray.is_initialized():
        return False
    if not config.address:
        # Ray's token authentication stays on (its default); only its notice about that is dropped here,
        # for this private instance. A cluster joined through ray.address keeps its own settings and logs.
        logging.getLogger(AUTH_LOGGER).addFilter(_auth_notice)
        ray.init(
            num_cpus=config.num_cpus or workers,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            log_to_driver=False,
            logging_level=logging.WARNING,
            configure_logging=False,
        )
        _worker_deaths_as_one_line()
        return True
    try:
        ray.init(
            address=config.address,
            log_to_driver=False,
            logging_level=logging.WARNING,
            configure_logging=False,
        )
        _worker_deaths_as_one_line()
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise ClusterError(f"could not join the Ray cluster at ray.address={config.address}: {e}") from e
    return False


def disconnect(started_here: bool) -> None:
    import ray

    if started_here and ray.is_initialized():
        ray.shutdown()
