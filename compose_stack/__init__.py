"""What the targets whose stack is a Compose folder share, below them all: the folder's adoption
checks and the Jinja environment their files are rendered with. No target name here."""
