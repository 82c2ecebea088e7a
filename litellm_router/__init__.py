"""The LiteLLM proxy as the router of a weighted split between the local model and the API: its
config (router.py, rendered pure), its image built from wheels pinned by hash (image.py,
litellm/). Shared by the targets that put a router in front of an upstream server, as
compose_stack/ is by the Compose-folder ones. Light: a target's settings read TAG from here."""

TAG = "xiaozhi-litellm:1.108.7"   # the image `invoke router.build` builds; the targets' router_image default
