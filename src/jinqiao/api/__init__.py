"""API: the HTTP face of a node (FastAPI, versioned under ``/v1``). JSON at the edge, bytes as
lowercase hex; canonical msgpack (hex in JSON, or raw with ``application/msgpack``) wherever a
client must verify or sign exactly.

A read reports the height it read at: a query or report takes its height and block time from
the store snapshot it reads (``Node.query_context``), never from the node's in-memory head, which
a commit may move between the two. Splitting the routes into one router per area over a narrow
node interface (tracker issue 8, item 5) is not done yet: ``app.create_app`` still closes over
the whole ``Node``."""
