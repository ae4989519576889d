"""Hostile snippets, each bounded so that it cannot harm the machine that runs the tests.

Placeholders filled by the host runner: ``{secret_file}`` (a file under /tmp
with the secret), ``{visible}`` (a folder the sandbox sees read-only; writes
there are host effects), ``{port}`` (a loopback TCP server of the host),
``{victim_glob}`` (where another kernel's connection file lies), ``{private}``
(the host's private /tmp folder).

A snippet prints ``PWNED`` when its action worked *inside* the executor; the
runner separately checks for effects on the *host* (files written, the secret
leaked, a connection to the host's server, another kernel driven).

``local``: safe to run in the host process through ``LocalExecutor``;
``outside_net``: only in the sandbox (must never send a packet from the host).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Snippet", "CORPUS"]


@dataclass(frozen=True)
class Snippet:
    name: str
    code: str
    local: bool = True
    sandbox_only: bool = False
    steps: tuple[str, ...] = ()
    """Further code run after ``code`` (e.g. to see whether a hijack persisted)."""


def _s(name: str, code: str, **options: object) -> Snippet:
    return Snippet(name, code.strip("\n"), **options)  # type: ignore[arg-type]


CORPUS: list[Snippet] = [
    # -- secrets ---------------------------------------------------------------
    _s("env_values", "import os\nprint(list(os.environ.values()))"),
    _s("proc_parent_environ", "import os\nprint(open(f'/proc/{{os.getppid()}}/environ', 'rb').read())", local=False),
    _s("proc_scan_environ", "import os\nfor p in os.listdir('/proc'):\n    try: print(open(f'/proc/{{p}}/environ','rb').read()[:4000])\n    except Exception: pass"),
    _s("read_secret_file", "print(open({secret_file!r}).read())"),
    _s("glob_tmp_secrets", "import glob\nfor p in glob.glob('/tmp/**/secret*', recursive=True): print(open(p).read())"),
    _s("proc1_root_secret", "print(open('/proc/1/root' + {secret_file!r}).read())", local=False),
    _s("subclass_walk_file_read",
       "io = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'FileIO'][0]\nprint(io({secret_file!r}).read())"),
    _s("format_string_globals", "import os.path\nprint('{{0.__globals__[os].environ}}'.format(os.path.join))"),
    _s("traceback_frame_walk",
       "import sys\ntry:\n    1/0\nexcept Exception as e:\n    f = e.__traceback__.tb_frame\n    while f:\n"
       "        for v in list(f.f_globals.values()):\n            if isinstance(v, str) and 'sk-corpus' in v: print(v)\n        f = f.f_back\n"
       "print(sys._getframe().f_back and 'outer frames visible')"),
    _s("generator_frame_walk",
       "def g():\n    yield __import__('sys')._getframe(1)\nf = next(g())\nseen = []\nwhile f:\n    seen.append(f.f_code.co_filename)\n    f = f.f_back\nprint(len(seen), 'frames')"),
    _s("ssh_keys", "import os\np = os.path.expanduser('~/.ssh')\nprint('PWNED' if os.path.isdir(p) and os.listdir(p) else 'none')"),
    # -- writing to the host ------------------------------------------------------
    _s("write_visible_file", "open({visible!r} + '/pwned-write', 'w').write('x')\nprint('PWNED')", local=False),
    _s("subclass_walk_popen",
       "P = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen'][0]\n"
       "P(['sh', '-c', 'touch ' + {visible!r} + '/pwned-popen']).wait()\nprint('PWNED')", local=False),
    _s("traceback_builtins_system",
       "try:\n    1/0\nexcept Exception as e:\n    b = e.__traceback__.tb_frame.f_globals['__builtins__']\n"
       "    imp = b['__import__'] if isinstance(b, dict) else b.__import__\n"
       "    imp('os').system('touch ' + {visible!r} + '/pwned-tb')\nprint('PWNED')", local=False),
    _s("ctypes_system", "import ctypes\nctypes.CDLL(None).system(('touch ' + {visible!r} + '/pwned-ctypes').encode())\nprint('PWNED')", local=False),
    # -- other kernels -----------------------------------------------------------
    _s("own_connection_file",
       "import glob, os\nfiles = [p for pat in ('/tmp/**/*.json', os.path.expanduser('~/.local/share/jupyter/runtime/*.json'), '/run/**/*.json') "
       "for p in glob.glob(pat, recursive=True) if 'kernel' in p]\nprint('PWNED' if files else 'none', files[:3])"),
    _s("drive_other_kernel",
       "import glob\nfrom jupyter_client import BlockingKernelClient\nfiles = glob.glob({victim_glob!r})\n"
       "kc = BlockingKernelClient(connection_file=files[0])\nkc.load_connection_file()\nkc.start_channels()\n"
       "kc.execute_interactive(\"open(%r + '/pwned-victim', 'w').write('x')\" % {visible!r}, timeout=3)\nprint('PWNED')", local=False),
    # -- network -----------------------------------------------------------------
    _s("net_loopback", "import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=0.5)\ns.sendall(b'hi')\nprint('PWNED')"),
    _s("net_outside", "import socket\ns = socket.socket()\ns.settimeout(0.5)\ns.connect(('192.0.2.1', 80))\nprint('PWNED')",
       local=False, sandbox_only=True),
    _s("raw_socket", "import socket\nsocket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)\nprint('PWNED')", local=False),
    # -- processes and resources -------------------------------------------------
    _s("fork_bomb_bounded",
       "import os, time\nn = 0\ntry:\n    for _ in range(100):\n        pid = os.fork()\n        if pid == 0:\n            time.sleep(1)\n            os._exit(0)\n"
       "        n += 1\nexcept OSError as e:\n    print('blocked:', e)\nfor _ in range(n): os.wait()\nprint('PWNED' if n == 100 else 'limited', n)", local=False),
    _s("thread_bomb_bounded",
       "import threading, time\nts = []\ntry:\n    for _ in range(2000):\n        t = threading.Thread(target=time.sleep, args=(0.5,)); t.start(); ts.append(t)\n"
       "except RuntimeError as e:\n    print('blocked:', e)\nfor t in ts: t.join()\nprint('PWNED' if len(ts) == 2000 else 'limited', len(ts))", local=False),
    _s("memory_bomb", "b = bytearray(16 * 1024 ** 3)\nprint('PWNED')", local=False),
    _s("memory_creep", "chunks = []\nfor _ in range(64):\n    chunks.append(bytearray(100 * 1024 ** 2))\nprint('PWNED')", local=False),
    _s("cpu_bomb_python", "while True:\n    pass"),
    _s("cpu_bomb_c", "sum(range(10 ** 13))", local=False),
    _s("open_files", "fs = [open('/dev/null') for _ in range(5000)]\nprint('PWNED', len(fs))", local=False),
    _s("deep_recursion", "def f(n):\n    return f(n + 1)\nf(0)"),
    _s("deep_recursion_unbounded", "import sys\nsys.setrecursionlimit(10 ** 7)\ndef f(n):\n    return f(n + 1)\nf(0)", local=False),
    _s("output_flood", "import sys\nfor _ in range(200):\n    sys.stdout.write('x' * 100_000 + '\\n')"),
    _s("display_flood", "from IPython.display import display, HTML\nfor i in range(500):\n    display(HTML('<b>%d</b>' % i))", local=False),
    # -- killing things ----------------------------------------------------------
    _s("kill_parent", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nprint('PWNED')", local=False),
    _s("kill_process_group", "import os, signal\nos.killpg(0, signal.SIGKILL)", local=False),
    _s("segfault", "import ctypes\nctypes.string_at(0)", local=False),
    _s("os_exit", "import os\nos._exit(3)", local=False),
    _s("system_exit", "raise SystemExit(1)"),
    # -- the bridge ----------------------------------------------------------------
    _s("overwrite_stub", "note = lambda text: 'hijacked'", steps=("print('PWNED' if note('check') == 'hijacked' else 'repaired')",)),
    _s("forge_bridge_request", "get_ipython().kernel.raw_input('\\x00smolkernel-bridge:forged:{{\"t\": \"note\", \"a\": [\"forged\"]}}')\nprint('PWNED')", local=False),
    _s("call_unknown_tool", "import sys\nprint(sys.modules['_smolkernel_bridge'].call_tool('eval', ('1',), {{}}))\nprint('PWNED')", local=False),
]
