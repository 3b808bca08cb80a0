"""What happens in one simulated session: its events' content and true times, not their wire form.

:func:`plan_session` draws one session of a given :class:`SessionKind` from a
``random.Random`` and yields its :class:`PlannedEvent`\\ s in order, lazily. Times here are the true
(collector) clock in epoch milliseconds; client clock skew, ``sent_at``/``received_at``,
event ids, duplicates and bad records are added later by :mod:`ingest.simulated_wire`.

The catalog (paths, element labels, features, goals, models and their prices) is fixed: only
the random draws vary, so one seed always gives the same sessions. Pure: no I/O, no wall clock.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

SECOND = 1000
MINUTE = 60 * SECOND


class SessionKind(StrEnum):
    """The shapes of session the simulator draws, each with its share of traffic."""

    BOUNCE = "bounce"  # one page, at most one interaction
    BROWSE = "browse"  # a few pages (standard)
    EXPLORE = "explore"  # 6..49 pages (exploration)
    CHAT = "chat"  # an LLM-heavy working session
    CONVERT = "convert"  # reaches one or more goals
    MARATHON = "marathon"  # hundreds of pages: rotated batches


KIND_WEIGHTS: tuple[tuple[SessionKind, float], ...] = (
    (SessionKind.BOUNCE, 0.30),
    (SessionKind.BROWSE, 0.27),
    (SessionKind.EXPLORE, 0.14),
    (SessionKind.CHAT, 0.14),
    (SessionKind.CONVERT, 0.12),
    (SessionKind.MARATHON, 0.03),
)

LANDING_PATHS = ("/", "/dashboard", "/pricing", "/docs/getting-started", "/blog/ai-analytics")
APP_PATHS = (
    "/dashboard",
    "/chat",
    "/reports",
    "/reports/new",
    "/settings",
    "/settings/billing",
    "/settings/team",
    "/templates",
    "/search",
    "/integrations",
    "/docs/api",
    "/notifications",
)
INTERACTIONS = (
    "btn_primary",
    "nav_workspace",
    "nav_chat",
    "nav_reports",
    "search_submit",
    "filter_apply",
    "modal_close",
    "copy_code",
    "export_csv",
    "tab_switch",
    "dropdown_open",
)
FEATURES = ("chat", "reports", "search", "export", "sharing", "templates", "settings")
GOALS = ("signup_completed", "workspace_created", "plan_upgraded", "invite_sent", "first_report")
ERRORS = (
    ("js_error", "TypeError: Cannot read properties of undefined (reading 'map')"),
    ("api_error", "502 Bad Gateway from /api/reports"),
    ("chat_error", "rate limited"),
    ("timeout", "request took longer than 30 s"),
    ("render_error", "Caf\u00e9 widget failed to render \u2014 retrying"),
    ("js_error", "unexpected \u0000 in payload"),
)
REFERRERS = ("google", "newsletter", "twitter", "direct", "partner_site")

# model -> (USD per prompt token, USD per completion token)
MODELS: tuple[tuple[str, float, float], ...] = (
    ("gpt-4o", 2.5e-6, 10e-6),
    ("gpt-4o-mini", 0.15e-6, 0.6e-6),
    ("claude-3-5-sonnet", 3e-6, 15e-6),
    ("llama-3.1-70b", 0.8e-6, 0.8e-6),
)
FINISH_REASONS = ("stop", "stop", "stop", "stop", "length", "content_filter")


def between(rng: random.Random, low: int, high: int) -> int:
    """A uniform integer in ``[low, high]``: ``randint`` semantics, a few times faster."""
    return low + int(rng.random() * (high - low + 1))


class PlannedEvent(NamedTuple):
    """One event's content: ``fields`` holds ``type`` and the type's fields (no ids, no times).

    ``at_ms`` is when it happened (true clock). ``from_server``: sent by the backend (accurate
    clock, no ``sent_at``), e.g. ``llm_usage``; otherwise sent by the browser.
    """

    at_ms: int
    fields: dict[str, Any]
    from_server: bool = False


@dataclass(frozen=True, slots=True)
class SessionContext:
    """Who the session is: the first context event's metadata and the signed-in user."""

    user_id: str | None  # None: anonymous
    metadata: dict[str, Any]
    workspace_ids: tuple[str, ...]  # other workspaces the user may switch to
    signup_user_id: str | None = None  # anonymous sessions that sign up get this id


class SessionPlanner:
    """Appends events while moving the session's true clock forward.

    :meth:`drain` hands over the events planned so far, so a session is planned lazily, a few
    events ahead of its reader. ``gaps`` counts the idle silences over 30 minutes planned.
    """

    __slots__ = ("added", "current_path", "events", "gaps", "now", "rng")

    def __init__(self, rng: random.Random, start_ms: int) -> None:
        self.rng = rng
        self.now = start_ms
        self.events: list[PlannedEvent] = []
        self.added = 0
        self.current_path: str | None = None
        self.gaps = 0

    def add(self, delay_ms: int, fields: dict[str, Any], *, from_server: bool = False) -> None:
        self.now += max(0, delay_ms)
        self.events.append(PlannedEvent(self.now, fields, from_server))
        self.added += 1

    def drain(self) -> list[PlannedEvent]:
        events, self.events = self.events, []
        return events

    def think(self, median_s: float) -> int:
        """A human delay: log-normal around ``median_s`` seconds."""
        return int(self.rng.lognormvariate(0.0, 0.8) * median_s * SECOND)

    def maybe_idle(self, chance: float) -> None:
        """Sometimes the tab sits idle past the 30-minute session gap."""
        if self.rng.random() < chance:
            self.now += between(self.rng, 31 * MINUTE, 4 * 60 * MINUTE)
            self.gaps += 1

    def page(self, path: str, *, dwell_s: float = 12.0, chatter: float = 1.0) -> None:
        rng = self.rng
        self.add(self.think(dwell_s) if self.added else 0, {"type": "page_view", "path": path})
        self.current_path = path
        if rng.random() < 0.75:
            load = min(3_600_000, int(rng.lognormvariate(6.6, 0.7)))
            self.add(between(rng, 30, 600), {"type": "page_load", "page": path, "load_ms": load})
        for _ in range(int(rng.expovariate(1.0) * chatter)):
            fields: dict[str, Any] = {"type": "interaction", "name": rng.choice(INTERACTIONS)}
            if rng.random() < 0.5:
                fields["path"] = path
            self.add(self.think(3.0), fields)
        if rng.random() < 0.25 * chatter:
            self.add(self.think(4.0), {"type": "feature_use", "name": rng.choice(FEATURES)})
        if rng.random() < 0.04:
            self.error()

    def error(self) -> None:
        rng = self.rng
        error_type, message = rng.choice(ERRORS)
        fields: dict[str, Any] = {"type": "error", "error_type": error_type}
        if rng.random() < 0.8:
            fields["message"] = message
        if self.current_path is not None and rng.random() < 0.7:
            fields["path"] = self.current_path
        self.add(between(rng, 100, 5000), fields)

    def chat_turn(self, chat_id: str, turn: int) -> None:
        """The user sends a message; the backend reports the model call; the UI renders it."""
        rng = self.rng
        self.add(self.think(20.0), {"type": "interaction", "name": "chat_send", "path": "/chat"})
        model, prompt_price, completion_price = rng.choice(MODELS)
        prompt = between(rng, 50, 6000) + turn * between(rng, 0, 400)
        completion = between(rng, 5, 1500)
        response_ms = between(rng, 300, 25_000)
        fields: dict[str, Any] = {
            "type": "llm_usage",
            "model": model,
            "tokens": prompt + completion,
            "cost": round(prompt * prompt_price + completion * completion_price, 6),
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "response_ms": response_ms,
            "chat_id": chat_id,
            "message_id": f"msg_{turn:04d}",
            "finish_reason": rng.choice(FINISH_REASONS),
        }
        if rng.random() < 0.03:
            fields["stopped"] = True
        if rng.random() < 0.1:  # a backend that reports only the required fields
            fields = {k: fields[k] for k in ("type", "model", "tokens", "cost")}
        self.add(response_ms, fields, from_server=True)
        self.add(
            between(rng, 10, 200),
            {"type": "page_load", "page": "chat_response", "load_ms": response_ms},
        )
        if rng.random() < 0.05:
            self.error()


def _context_event(context: SessionContext, rng: random.Random) -> dict[str, Any]:
    metadata = dict(context.metadata)
    if rng.random() < 0.3:
        metadata["referrer"] = rng.choice(REFERRERS)
    return {"type": "context", "metadata": metadata}


def _app_path(rng: random.Random, workspace_id: str | None) -> str:
    path = rng.choice(APP_PATHS)
    if workspace_id is not None and rng.random() < 0.3:
        return f"/workspace/{workspace_id}{path}"
    if path == "/reports" and rng.random() < 0.4:
        return f"/reports/r{between(rng, 1, 400)}"
    return path


def plan_session(
    kind: SessionKind, context: SessionContext, planner: SessionPlanner
) -> Iterator[PlannedEvent]:
    """The events of one session in order, planned lazily (a page or a chat at a time)."""
    rng = planner.rng
    workspace_id = context.metadata.get("workspace_id")
    if rng.random() < 0.85:
        planner.add(0, _context_event(context, rng))
    if kind is SessionKind.BOUNCE:
        planner.page(rng.choice(LANDING_PATHS), chatter=0.0)
        if rng.random() < 0.3:
            planner.add(planner.think(3.0), {"type": "interaction", "name": "btn_primary"})
        if rng.random() < 0.2:
            planner.add(planner.think(8.0), {"type": "session_end"})
        yield from planner.drain()
        return
    if kind is SessionKind.BROWSE:
        pages = between(rng, 2, 5)
    elif kind is SessionKind.EXPLORE:
        pages = between(rng, 6, 49)
    elif kind is SessionKind.MARATHON:
        pages = between(rng, 80, 700)
    elif kind is SessionKind.CHAT:
        pages = between(rng, 1, 6)
    else:
        pages = between(rng, 2, 9)
    idle_chance = 0.15 if kind is SessionKind.MARATHON else 0.02
    planner.page(rng.choice(LANDING_PATHS))
    yield from planner.drain()
    for index in range(1, pages):
        planner.maybe_idle(idle_chance / max(1, pages // 10))
        if kind is SessionKind.CHAT and rng.random() < 0.5:
            _chat(planner, rng, index)
        else:
            dwell = 6.0 if kind is SessionKind.MARATHON else 12.0
            planner.page(_app_path(rng, workspace_id), dwell_s=dwell)
        if rng.random() < 0.03 and len(context.workspace_ids) > 1:
            switched = rng.choice(context.workspace_ids)
            switch = {"type": "context", "metadata": {"workspace_id": switched}}
            planner.add(planner.think(2.0), switch)
            workspace_id = switched
        elif rng.random() < 0.005:  # the experiment ends: the key stays, set to null
            planner.add(
                planner.think(2.0), {"type": "context", "metadata": {"experiment_variant": None}}
            )
        yield from planner.drain()
    if kind is SessionKind.CHAT:
        _chat(planner, rng, pages)
    if kind is SessionKind.CONVERT:
        _convert(planner, rng, context)
    if rng.random() < 0.25:
        planner.add(planner.think(10.0), {"type": "session_end"})
    yield from planner.drain()


def _chat(planner: SessionPlanner, rng: random.Random, index: int) -> None:
    chat_id = f"chat_{rng.getrandbits(40):010x}"
    planner.page("/chat", dwell_s=5.0, chatter=0.3)
    planner.add(planner.think(2.0), {"type": "feature_use", "name": "chat", "path": "/chat"})
    turns = 1 + int(rng.expovariate(1 / 6))
    for turn in range(turns):
        planner.chat_turn(chat_id, turn)
        if rng.random() < 0.02:
            planner.maybe_idle(1.0)


def _convert(planner: SessionPlanner, rng: random.Random, context: SessionContext) -> None:
    goals = rng.sample(GOALS, between(rng, 1, 2))
    for goal in goals:
        planner.page(f"/onboarding/{goal}", dwell_s=20.0)
        planner.add(planner.think(5.0), {"type": "goal", "name": goal})
        if goal == "signup_completed" and context.signup_user_id is not None:
            planner.add(
                planner.think(1.0),
                {
                    "type": "context",
                    "user_id": context.signup_user_id,
                    "metadata": {"signed_up": True},
                },
            )
        if goal == "plan_upgraded":
            planner.add(planner.think(1.0), {"type": "context", "metadata": {"plan": "pro"}})
        if rng.random() < 0.15:  # the same goal reported again later: the earliest is kept
            planner.add(planner.think(30.0), {"type": "goal", "name": goal})
