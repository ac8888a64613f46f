"""Connecting to Ray: a private instance on this machine by default, or a running cluster.

ray.address unset     start Ray here, on loopback, with as many CPUs as asked
ray.address=auto      join the cluster started on this machine with `ray start --head`
ray.address=HOST:PORT join a cluster's head node (every node needs this package installed)
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass

AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"


def _auth_notice(record: logging.LogRecord) -> bool:
    """False for Ray's 'Token authentication is enabled for this Ray cluster' notice."""
    return "Token authentication is enabled for this Ray cluster" not in record.getMessage()


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
        return True
    try:
        ray.init(
            address=config.address,
            log_to_driver=False,
            logging_level=logging.WARNING,
            configure_logging=False,
        )
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise ClusterError(f"could not join the Ray cluster at ray.address={config.address}: {e}") from e
    return False


def disconnect(started_here: bool) -> None:
    import ray

    if started_here and ray.is_initialized():
        ray.shutdown()
