"""This target's own task, added to the toolkit's collection through its TargetSpec:
`invoke router.build`, the production build of the router image its stage 2 starts."""
from __future__ import annotations

from invoke import Collection

from core.cli import converted, settings as _settings, task
from targets.xiaozhi_server import SECTION


@task(help={"base_image": "the image the wheels go into: Debian 12 with CPython 3.11 (default xiaozhi-base:"
                          "bookworm, made with debootstrap from this host's apt mirror when missing)",
            "rebuild": "build even when the image is up to date with its sources",
            "dry_run": "say what would be built, change and download nothing"})
@converted
def router_build(c, base_image=None, rebuild=False, dry_run=False):
    """Build the router image xiaozhi-server starts at stage 2 (LiteLLM, wheels pinned by hash)."""
    from litellm_router import image as router_image
    settings = _settings(c)
    wanted = settings.sections[SECTION].router_image   # whichever target the config runs
    if dry_run:
        print(router_image.describe(base_image or router_image.DEFAULT_BASE, rebuild=rebuild))
        print("dry run: nothing was changed")
    else:
        router_image.build(base_image or router_image.DEFAULT_BASE, rebuild=rebuild)
    if wanted != router_image.TAG:
        print(f"note: migrate.xiaozhi_server.router_image names {wanted}, not {router_image.TAG}: stage 2 starts "
              "that one (set it to this tag to use the image built here)")


router = Collection("router")
router.add_task(router_build, "build")
