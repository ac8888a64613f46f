"""`bcz run`: start a robot on a policy and type instructions to it (terminal, or a web page).

    bcz run                                  the simulated arm, the shipped default policy, a prompt
    bcz run web=true                         the same with the web page on http://127.0.0.1:8000
    bcz run robot=xarm xarm.ip=192.168.1.200 checkpoint=PATH    a UFACTORY xArm through its SDK
At the prompt: any text is a new instruction (it takes effect at once, mid-motion; the scene is laid
out anew when it lacks the objects named); `reset` lays out a new scene for the same instruction,
`stop` holds, `estop` / `release` engage and release the emergency stop, `status` shows the live
figures, `help`, `quit`. What happens (done, still trying, new scene) is printed above the prompt.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import torch
from omegaconf import OmegaConf
from rich.console import Console
from rich.table import Table

from conf.checks import at_least, positive
from deploy.loop import ControlLoop, LoopConfig
from deploy.reading import InstructionReading
from deploy.session import RobotSession
from deploy.terminal import PromptConsole, prompt_logging
from deploy.web.access import WILDCARDS, WebAccess, check_port_free, web_access
from evaluation.rollouts import env_config_for, why_no_rollouts
from policy.language import SentenceEncoder
from policy.policy import Policy
from robot.safety import SafeRobot, SafetyConfig
from robot.xarm import XArmConfig
from sim.sim_robot import SimRobot, SimRobotConfig
from tasks.instruction_text import check_instruction
from tasks.suite import TaskSuite

log = logging.getLogger(__name__)
ROBOTS = ("sim", "xarm")
GIL_SWITCH_S = 0.001
TORCH_THREADS = 1
HELP = (
    "type an instruction (it takes effect at once) | force TEXT: start it even when not understood | "
    "reset: new scene, same instruction | stop: hold | estop / release | status | help | quit"
)


@dataclass
class RunConfig:
    """Schema of `bcz run` (conf/run.yaml): which robot and policy, the loop, safety, and the web page."""

    robot: str = "sim"  # sim | xarm
    sim: SimRobotConfig = field(default_factory=SimRobotConfig)
    xarm: XArmConfig = field(default_factory=XArmConfig)
    checkpoint: str = "default"  # "default": the policy shipped with the project; else a checkpoint directory
    instruction: str | None = None  # start with this instruction
    loop: LoopConfig = field(default_factory=LoopConfig)
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    web: bool = False
    host: str = "127.0.0.1"  # the page's address; another one needs the token, a wildcard web_hosts
    port: int = 8000
    web_token: str = "auto"  # auto: a new random token per run, inside the printed URL | a token | off
    web_hosts: list[str] = field(default_factory=list)  # Host names served besides loopback (DNS rebinding)
    web_origins: list[str] = field(default_factory=list)  # origins allowed on the socket besides the page's
    view_hz: float = 3.0  # frames per second sent to the page (0: none)
    record: str | None = None  # dataset to record episodes into (operator takeovers flagged)
    hold_when_done: bool = True  # simulator: hold once the task's success check passes, as eval ends there
    duration: float | None = None  # seconds, then stop (default: until quit)

    def __post_init__(self) -> None:
        at_least(self, 0, "view_hz")
        positive(self, "duration")
        if self.instruction is not None:
            self.instruction = check_instruction(self.instruction)


def checkpoint_path(name: str) -> Path:
    """The shipped default policy, or a checkpoint directory."""
    if name == "default":
        return Path(str(resources.files("policy").joinpath("pretrained", "default")))
    return Path(name)


def build(cfg: RunConfig) -> tuple[RobotSession, Policy]:
    """The connected, safety-wrapped robot in a session with the policy's control loop (not started yet),
    and the policy; refuses a policy whose cameras, state or action the robot does not have."""
    if cfg.robot not in ROBOTS:
        raise ValueError(f"robot={cfg.robot!r}; valid: {', '.join(ROBOTS)}")
    # one thread per torch call: a plan takes as long as with two (5.3 against 5.7 ms), and no pool of
    # worker threads competes with the loop for the cores or keeps a heap arena each
    torch.set_num_threads(TORCH_THREADS)
    policy = Policy.from_pretrained(checkpoint_path(cfg.checkpoint))
    if cfg.robot == "sim":
        cfg.sim.env = env_config_for(policy, cfg.sim.env)  # cameras as the policy saw them
        cfg.sim.env.robot.control_hz = cfg.loop.control_hz
        robot = SimRobot(cfg.sim)
    else:
        from robot.xarm import XArmRobot

        robot = XArmRobot(cfg.xarm)
    safe = SafeRobot(robot, cfg.safety, cfg.loop.control_hz)
    safe.connect()
    features = {
        f"observation.images.{k}": {"shape": list(f.shape)}
        for k, f in safe.observation_features.items()
        if k != "state"
    }
    features["observation.state"] = {"names": list(safe.observation_features["state"].names)}
    features["action"] = {"names": list(safe.action_features["action"].names)}
    policy.check_features(features, "robot")
    policy.embed(["warm up"])  # load the encoder (and reader) now, not at the first instruction
    if isinstance(policy.encoder, SentenceEncoder):
        policy.encoder.stop_saving()
    loop = ControlLoop(safe, policy, cfg.loop)
    view_hz = cfg.view_hz if cfg.web else 0
    reading = None
    # a policy that knows its suite (it plays in this simulator) is read against it; task ids need no
    # reading, and a policy of another robot's data keeps free text
    if policy.config.encoder != "onehot" and why_no_rollouts(policy) is None:
        reading = InstructionReading(policy, TaskSuite.load(policy.config.suite))
    done = cfg.hold_when_done
    session = RobotSession(safe, loop, view_hz, cfg.record, hold_when_done=done, reading=reading)
    # what start-up made lives until the end: out of the collector's sight, a full collection takes
    # 0.1 ms instead of 150 ms (440k objects), a pause the loop would otherwise take as a missed tick
    gc.freeze()
    # a thread waking for its tick waits for the GIL at most this long (Python's default is 5 ms, which
    # the tick's start jitter showed whenever the planner or the page held it)
    sys.setswitchinterval(GIL_SWITCH_S)
    return session, policy


def figures_table(session: RobotSession) -> Table:
    """The loop's live figures and the session's state, instruction and success, as a table."""
    table = Table(title="live figures")
    table.add_column("figure")
    table.add_column("value", justify="right")
    status = session.status()
    for k, v in status["figures"].items():
        table.add_row(k, f"{v:.2f}" if isinstance(v, float) else str(v))
    table.add_row("state", status["state"])
    table.add_row("instruction", status["instruction"] or "-")
    table.add_row("from", status["source"] or "-")
    table.add_row("read as", status["read_as"] or "-")
    success = status["success"]
    table.add_row("success", "no check" if success is None else ("yes" if success else "not yet"))
    return table


def prompt(session: RobotSession, console: Console, stop: threading.Event) -> None:
    """The terminal: a line is a command or an instruction; events appear above the prompt as they happen."""
    terminal = PromptConsole()
    if hasattr(sys.stdin, "reconfigure"):  # bytes that are not UTF-8 reach the gate, not a traceback
        sys.stdin.reconfigure(errors="surrogateescape")
    console.print(HELP)
    if session.sim is not None:
        console.print("on the table: " + ", ".join(o.replace("_", " ") for o in session.sim.objects))
    with prompt_logging(terminal):
        while not stop.is_set():
            try:
                line = terminal.read().strip()
            except EOFError:
                break
            if not line:
                continue
            word = line.lower()
            if word in ("quit", "exit", "q"):
                break
            try:
                if word == "help":
                    console.print(HELP)
                elif word in session.COMMANDS:
                    session.command(word)
                elif word == "status":
                    console.print(figures_table(session))
                else:
                    session.instruct(line)
            except ValueError as e:  # bad or not understood: said to the operator, the robot untouched
                terminal.say(str(e))


def serve(session: RobotSession, cfg: RunConfig, access: WebAccess, stop: threading.Event) -> None:
    """Start the page's server; OSError in one line when it cannot listen."""
    import uvicorn

    from deploy.web.app import make_app

    app = make_app(session, access)
    server = uvicorn.Server(uvicorn.Config(app, host=cfg.host, port=cfg.port, log_level="critical"))
    thread = threading.Thread(target=server.run, name="web", daemon=True)
    thread.start()
    stop.server = server  # type: ignore[attr-defined]
    while not server.started:
        if not thread.is_alive():  # lost a race for the port, or the address is not this machine's
            raise OSError(
                f"the web page could not listen on {cfg.host}:{cfg.port}; choose another with port="
            )
        time.sleep(0.02)


def page_url(cfg: RunConfig, access: WebAccess) -> str:
    """The web page's address, with the access token when there is one."""
    host = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
    if cfg.host in WILDCARDS:
        host = cfg.web_hosts[0]
    return f"http://{host}:{cfg.port}/" + (f"?token={access.token}" if access.token else "")


def run(cfg: RunConfig, console: Console | None = None) -> RobotSession:
    """`bcz run`: drive the robot until quit, interrupt or `duration`, from the terminal or the web page;
    the robot is disconnected on the way out and the figures printed."""
    console = console or Console()
    access = None
    if cfg.web:  # before anything starts
        access = web_access(cfg.host, cfg.web_token, cfg.web_hosts, cfg.web_origins)
        check_port_free(cfg.host, cfg.port)
    session, policy = build(cfg)
    stop = threading.Event()
    session.loop.start()
    try:
        if cfg.instruction:
            session.instruct(cfg.instruction, source="command line", relayout=True)  # a scene for it
        if access is not None:
            serve(session, cfg, access, stop)
            console.print(f"web page: {page_url(cfg, access)}")
        console.print(
            f"policy {checkpoint_path(cfg.checkpoint)} ({policy.config.arch}) driving {session.robot.name} "
            f"at {cfg.loop.control_hz:g} Hz"
        )
        if cfg.duration is not None:
            time.sleep(cfg.duration)
        elif sys.stdin.isatty():
            prompt(session, console, stop)
        elif cfg.web:
            console.print("no terminal attached: serving the web page until interrupted")
            while True:
                time.sleep(1)
        else:
            raise OSError(
                "bcz run reads instructions from a terminal, and stdin is not one: run it in a "
                "terminal, add web=true, or pass instruction=... duration=SECONDS"
            )
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        if hasattr(stop, "server"):
            stop.server.should_exit = True
        session.loop.stop()
        session.close()
        session.robot.disconnect()
    console.print(figures_table(session))
    return session


def main(cfg) -> None:
    """Hydra entry point of `bcz run`."""
    run(OmegaConf.to_object(cfg))
