"""Shared fixtures. No test reaches a model provider: models are scripted or loopback."""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.pop("SMOLKERNEL_MODEL", None)
