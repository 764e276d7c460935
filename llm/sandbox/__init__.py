"""Run untrusted, model-written Python programs in a throw-away sandbox, one fresh process tree per program.

The caller's API is :mod:`llm.sandbox.api` (limits, isolation layers, results); the script that another interpreter
runs to set up and supervise each program is :mod:`llm.sandbox.supervisor`. ``docs/sandbox.md`` has the threat model.
"""

from llm.sandbox.api import (ISOLATION_TAGS, STATUSES, IsolationError, SandboxError, SandboxResult, find_interpreter,
                             platform_isolation, run_many, run_program)

__all__ = [
    "ISOLATION_TAGS", "STATUSES", "IsolationError", "SandboxError", "SandboxResult", "find_interpreter",
    "platform_isolation", "run_many", "run_program",
]
