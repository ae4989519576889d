"""``%agent`` and ``%%agent``: smolkernel's magics for any IPython kernel.

Load them with ``%load_ext smolkernel`` (``smolkernel.load_ipython_extension``
delegates here). See ``AgentMagics`` for the options and commands.
"""

from .agent_magics import AgentMagics, load_ipython_extension, unload_ipython_extension

__all__ = ["AgentMagics", "load_ipython_extension", "unload_ipython_extension"]
