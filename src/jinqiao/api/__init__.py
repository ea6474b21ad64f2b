"""API: the HTTP face of a node (FastAPI, versioned under ``/v1``). JSON at the edge, bytes as
lowercase hex; canonical msgpack (hex in JSON, or raw with ``application/msgpack``) wherever a
client must verify or sign exactly."""
