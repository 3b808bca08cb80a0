"""Fixtures for every test.

- ``settings_base`` (session): the one :class:`Settings` built from the environment, like the
  CLI builds it. Tests derive variants with ``settings_base.model_copy(update={...})``.
"""

from __future__ import annotations

import pytest

from sessionizer.settings import Settings


@pytest.fixture(scope="session")
def settings_base() -> Settings:
    return Settings()
