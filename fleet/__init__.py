"""Many hosts (issue 25): the inventory and the rollout's plan, pure. Reaching the hosts (Fabric)
and the `fleet.*` tasks are not built yet: nothing here is called by a task."""
