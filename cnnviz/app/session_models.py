"""Models students trained in the app: each visible to its own browser session only.

A trained model is kept under a random token (``"yours-"`` and 16 hex digits) that only
its session's page learns (as the value of its "your model" choice), so no other session
can name it. A session keeps one model: a new one replaces it. Models are freed when
their session ends (:func:`forget_session`), after :data:`IDLE_SECONDS` unused, or,
beyond :data:`MAX_MODELS`, oldest first: memory stays bounded on a shared server.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from torch import nn

PREFIX = "yours-"
IDLE_SECONDS = 30 * 60
MAX_MODELS = 32


@dataclass
class _Entry:
    model: nn.Module
    session: str
    used: float


_models: dict[str, _Entry] = {}
_lock = threading.Lock()


def is_session_model(name: str) -> bool:
    """Whether a model-switch value names a session's model (not a shipped one)."""
    return isinstance(name, str) and name.startswith(PREFIX)


def _expire(now: float) -> None:
    for token in [t for t, e in _models.items() if now - e.used > IDLE_SECONDS]:
        del _models[token]
    for token in sorted(_models, key=lambda t: _models[t].used)[
        : max(0, len(_models) - MAX_MODELS)
    ]:
        del _models[token]


def keep(model: nn.Module, session: str) -> str:
    """Keep ``model`` (in eval mode) as ``session``'s model; return its new token.

    Examples
    --------
    >>> from torch import nn
    >>> token = keep(nn.Linear(2, 2), "session-a")
    >>> find(token).training, is_session_model(token)
    (False, True)
    >>> forget_session("session-a")
    >>> find(token) is None
    True
    """
    model.eval()
    with _lock:
        now = time.monotonic()
        for token in [t for t, e in _models.items() if e.session == session]:
            del _models[token]
        token = PREFIX + secrets.token_hex(8)
        _models[token] = _Entry(model, session, now)
        _expire(now)
    return token


def find(token: str) -> nn.Module | None:
    """The model kept under ``token``, or ``None`` if it was freed (or never existed)."""
    with _lock:
        _expire(time.monotonic())
        entry = _models.get(token)
        if entry is None:
            return None
        entry.used = time.monotonic()
        return entry.model


def forget_session(session: str) -> None:
    """Free ``session``'s model (its page was closed)."""
    with _lock:
        for token in [t for t, e in _models.items() if e.session == session]:
            del _models[token]


def count() -> int:
    """How many session models are kept now."""
    with _lock:
        return len(_models)
