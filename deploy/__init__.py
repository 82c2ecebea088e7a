"""Plans and applies stages: render the files of a stage, compare with what is deployed,
apply through Compose, verify, and roll back."""
