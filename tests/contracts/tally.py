"""A small member package the lifecycle tests deploy: ``MANIFEST`` takes a ``version``."""

SOURCE = """from jinqiao.contracts.api import Contract, method, query


class Tally(Contract):
    @method
    def add(self, ctx, args):
        total = (ctx.state.load(b"total") or 0) + args.amount_minor
        ctx.state.save(b"total", total)
        return total

    @query
    def total(self, ctx, args):
        return ctx.state.load(b"total") or 0
"""
MANIFEST = """name = "tally"
version = "{version}"
[methods.add]
args = {{ amount_minor = "int" }}
[methods.total]
kind = "query"
"""
