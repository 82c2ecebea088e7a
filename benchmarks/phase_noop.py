"""Issue 4's target: a no-change `invoke phase` on the running sandbox takes under 2 s and
restarts no container. Prints figures; asserts nothing."""
import sys

import docker
import yaml

from common import INVOKE, ROOT, SETTINGS, timed


def started(client, project):
    return {c.name: c.attrs["State"]["StartedAt"]
            for c in client.containers.list(filters={"label": f"com.docker.compose.project={project}"})}


def main() -> int:
    state = yaml.safe_load((ROOT / SETTINGS["deploy_dir"] / "state.json").read_text())
    client = docker.from_env()
    before = started(client, SETTINGS["project"])
    median, runs, code = timed(INVOKE + ["phase", "--stage", str(state["stage"]), "--yes"])
    after = started(client, SETTINGS["project"])
    restarted = sorted(name for name in before if after.get(name) != before[name])
    print(f"no-change phase --stage {state['stage']}: median {median:.3f} s over {len(runs)} runs "
          f"({', '.join(f'{t:.2f}' for t in runs)}), exit {code} (target < 2 s)")
    print(f"containers restarted: {len(restarted)} {restarted} (target 0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
