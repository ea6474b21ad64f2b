"""API: the HTTP face of a node (FastAPI, versioned under ``/v1``). JSON at the edge, bytes as
lowercase hex; canonical msgpack (hex in JSON, or raw with ``application/msgpack``) wherever a
client must verify or sign exactly.

One router per area (``operations``, ``chain``, ``transactions``, ``state``, ``payments``,
``reports``, ``events``), each over the node's narrow port (``node.port.NodePort``): the API never
touches the node's store, chain, mempool or runtime (an import-linter contract enforces it). A
read reports the height it read at: a query or report takes its height and block time from the
one snapshot it reads (``NodePort.reading``), never from a head a commit may move meanwhile."""
