"""The Docker image ``DockerExecutor`` runs: built offline, cached by the hash of its recipe.

No image registry is needed. The root filesystem is made by ``mmdebstrap``
from Debian packages (``python3-ipykernel`` and friends) and loaded with
``docker import``; a non-root user ``agent`` (uid 1000) is created in it. The
image's tag is ``smolkernel-kernel:<hash of the recipe>``, so it is rebuilt
only when the recipe changes (another suite, mirror or package list)::

    smolkernel image build              # build (or reuse) the default image
    smolkernel image build --force      # build again even when it exists

Building takes a few minutes and about 350 MB; ``DockerExecutor`` builds the
image on first use and says so on stderr.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from typing import Any
from dataclasses import asdict, dataclass, field

from ..exceptions import ConfigurationError, ExecutorError

__all__ = ["ImageRecipe", "DEFAULT_RECIPE", "build_image", "ensure_image", "image_exists"]

IMAGE_REPOSITORY = "smolkernel-kernel"
KERNEL_UID = 1000
"""The uid (and gid) the kernel runs as inside the container."""


@dataclass(frozen=True)
class ImageRecipe:
    """What goes into the image; its hash names the image."""

    suite: str = "bookworm"
    """The Debian release the root filesystem comes from."""
    mirror: str = "http://deb.debian.org/debian"
    """Where the Debian packages are fetched from (at build time only)."""
    packages: tuple[str, ...] = ("python3", "python3-ipykernel", "python3-numpy", "tini")
    """Debian packages installed (with their dependencies)."""
    user: str = "agent"
    """The non-root user created with uid/gid ``KERNEL_UID``."""
    version: int = 1
    """Bumped when the build steps below change."""
    extra: dict[str, str] = field(default_factory=dict)
    """Free-form additions that should change the hash (e.g. a site label)."""

    def digest(self) -> str:
        """A short, stable hash of the recipe."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def tag(self) -> str:
        """The image's name and tag, e.g. ``smolkernel-kernel:1a2b3c4d5e6f``."""
        return f"{IMAGE_REPOSITORY}:{self.digest()}"


DEFAULT_RECIPE = ImageRecipe()


def docker_command() -> str:
    """The docker CLI.

    Raises:
        ConfigurationError: it is not installed.
    """
    found = shutil.which("docker")
    if found is None:
        raise ConfigurationError("the 'docker' executor needs Docker: install docker.io (Debian/Ubuntu) "
                                 "and start the engine (scripts/dockerd.sh does both checks)")
    return found


def image_exists(tag: str) -> bool:
    """True when the engine has an image named ``tag``."""
    result = subprocess.run([docker_command(), "image", "inspect", tag], capture_output=True)
    return result.returncode == 0


def build_command(recipe: ImageRecipe) -> list[str]:
    """The mmdebstrap argv that writes the root filesystem as a tar stream on stdout."""
    if shutil.which("mmdebstrap") is None:
        raise ConfigurationError("building the Docker image needs mmdebstrap (Debian/Ubuntu package 'mmdebstrap')")
    uid = KERNEL_UID
    hook = (f'chroot "$1" groupadd -g {uid} {recipe.user} && '
            f'chroot "$1" useradd -u {uid} -g {uid} -M -d /tmp/home -s /usr/sbin/nologin {recipe.user} && '
            'rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*')
    return ["mmdebstrap", "--variant=apt", "--quiet", f"--include={','.join(recipe.packages)}",
            f"--customize-hook={hook}", recipe.suite, "-", recipe.mirror]


def build_image(recipe: ImageRecipe = DEFAULT_RECIPE, *, force: bool = False,
                progress: Callable[[str], None] | None = None) -> str:
    """Build the image for ``recipe`` (unless it exists and ``force`` is false); return its tag.

    Raises:
        ConfigurationError: docker or mmdebstrap is missing.
        ExecutorError: the build failed; the message quotes its last lines.
    """
    say = progress or (lambda text: print(text, file=sys.stderr, flush=True))
    tag = recipe.tag
    if not force and image_exists(tag):
        say(f"smolkernel: image {tag} is up to date")
        return tag
    say(f"smolkernel: building the Docker image {tag} with mmdebstrap (a few minutes, once)...")
    changes = ["--change", f"USER {KERNEL_UID}:{KERNEL_UID}", "--change", "ENV HOME=/tmp/home",
               "--change", "WORKDIR /tmp", "--change", f"LABEL smolkernel.recipe={recipe.digest()}"]
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    debstrap = subprocess.Popen(build_command(recipe), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    importer = subprocess.run([docker_command(), "import", *changes, "-", tag], stdin=debstrap.stdout,
                              capture_output=True)
    debstrap.stdout.close()  # type: ignore[union-attr]
    errors = debstrap.stderr.read().decode(errors="replace") if debstrap.stderr else ""  # type: ignore[union-attr]
    if debstrap.wait() != 0 or importer.returncode != 0:
        tail = "\n".join((errors + importer.stderr.decode(errors="replace")).strip().splitlines()[-15:])
        raise ExecutorError(f"building the image {tag} failed:\n{tail}")
    say(f"smolkernel: built {tag}")
    return tag


def ensure_image(recipe: ImageRecipe = DEFAULT_RECIPE, *, progress: Callable[[str], None] | None = None) -> str:
    """The tag of ``recipe``'s image, building it first when the engine does not have it."""
    if image_exists(recipe.tag):
        return recipe.tag
    return build_image(recipe, progress=progress)


def add_image_command(subparsers: Any) -> None:
    """Register ``smolkernel image build [--force]``."""
    image = subparsers.add_parser("image", help="the Docker image of the 'docker' executor")
    actions = image.add_subparsers(dest="image_command", metavar="ACTION", required=True)
    build = actions.add_parser("build", help="build the image offline with mmdebstrap (reused while its recipe is unchanged)")
    build.add_argument("--force", action="store_true", help="build again even when the image exists")
    build.set_defaults(handler=_build_command)


def _build_command(args: Any) -> int:
    try:
        tag = build_image(force=args.force)
    except (ConfigurationError, ExecutorError) as exc:
        print(f"smolkernel image build: {exc}", file=sys.stderr)
        return 1
    print(tag)
    return 0
