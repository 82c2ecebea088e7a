"""Many hosts (issue 25): the inventory, the rollout's plan and record, each host's own toolkit
reached over SSH (adapters/ssh.py, Fabric), and the `fleet.*` tasks' work (README, "Many hosts")."""
