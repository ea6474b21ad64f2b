"""Hostile contracts: each must be refused by the review (a rule code) or stopped by the sandbox
(a rejection code). ``HOSTILE`` is the suite; docs/contracts.md lists it ("The hostile suite"),
and tests/contracts/test_contracts_hostile.py checks that the list there is this list.

A case is a method body (``attack``, no arguments) and optional module-level ``prelude``; the
``expected`` code is a rule code (``JQ...``) when the review must refuse the source, or a
rejection code when the source passes the review and the call must be stopped."""

from __future__ import annotations

from dataclasses import dataclass
from textwrap import indent


@dataclass(frozen=True)
class Hostile:
    id: str
    body: str
    expected: str
    prelude: str = ""
    what: str = ""
    class_prelude: str = ""

    def source(self) -> str:
        return (
            "from jinqiao.contracts.api import Contract, method\n"
            f"{self.prelude}\n\n"
            "class Hostile(Contract):\n"
            f"{indent(self.class_prelude, ' ' * 4)}\n"
            "    @method\n"
            "    def attack(self, ctx, args):\n"
            f"{indent(self.body, ' ' * 8)}\n"
        )


MANIFEST = 'name = "hostile"\nversion = "1"\n[methods.attack]\n'

HOSTILE = [
    # -- the known escapes of restricted Python ---------------------------------------------
    Hostile("generator_frame", "g = (x for x in [1])\nreturn g.gi_frame.f_back.f_globals",
            "JQ122", what="a generator's frame leads to the globals of its caller"),
    Hostile("traceback_frame",
            "try:\n    1 // 0\nexcept ZeroDivisionError as e:\n    return e.__traceback__.tb_frame",
            "JQ101", what="a traceback's frame"),
    Hostile("traceback_frame_computed",
            "try:\n    1 // 0\nexcept ZeroDivisionError as e:\n"
            "    return getattr(e, '_' + '_traceback__')",
            "JQ121", what="the same, with the attribute name built at run time"),
    Hostile("subclasses", "return ().__class__.__bases__[0].__subclasses__()", "JQ101",
            what="object.__subclasses__() reaches every class in the process"),
    Hostile("format_attribute_walk", "return '{0.__class__.__init__.__globals__}'.format(ctx)",
            "JQ122", what="str.format walks attributes the review never sees"),
    Hostile("format_map_walk", "return '{x.__class__}'.format_map({'x': ctx})", "JQ122",
            what="format_map does the same"),
    Hostile("format_through_getattr", "return getattr('{0.__class__}', 'format')(ctx)",
            "JQ121", what="format reached with getattr"),
    Hostile("type_three_arguments", "return type('X', (), {})", "JQ120",
            what="type() makes classes with any namespace"),
    Hostile("metaclass", "return 1", "JQ101",
            prelude="class Meta(Contract, metaclass=Contract):\n    pass",
            what="a metaclass keyword"),
    Hostile("second_class", "return 1", "JQ172", prelude="class Helper:\n    pass",
            what="a second class (a place for special methods and class state)"),
    Hostile("mro_walk", "return ValueError.mro()", "JQ122",
            what="mro() leads from an exception class to object"),
    Hostile("shadowed_builtin", "len = 5\nreturn len", "JQ183",
            what="rebinding len makes len(x) mean something else"),
    Hostile("shadowed_builtin_function", "return len([1])", "JQ183",
            prelude="def len(value):\n    return 0", what="a function named like a builtin"),
    Hostile("shadowed_api_name", "return 1", "JQ183",
            prelude="def method(function):\n    return function",
            what="redefining the API's own decorator"),
    Hostile("decorator", "return 1", "JQ173",
            prelude="def wrap(function):\n    return function\n\n@wrap\ndef helper():\n"
            "    return 1",
            what="a decorator runs code at load time"),
    Hostile("special_method", "return 1", "JQ101",
            prelude="def __getattr__(name):\n    return name",
            what="a module-level special function"),
    Hostile("getattr_dunder", "return getattr(ctx, '__class__')", "JQ121",
            what="getattr on a dunder name"),
    Hostile("getattr_computed", "name = 'st' + 'ate'\nreturn getattr(ctx, name)", "JQ121",
            what="getattr on a computed name"),
    Hostile("exec", "exec('1')", "JQ120", what="exec"),
    Hostile("eval", "return eval('1')", "JQ120", what="eval"),
    Hostile("compile", "return compile('1', 'x', 'eval')", "JQ120", what="compile"),
    Hostile("open", "return open('/etc/passwd').read()", "JQ120", what="open"),
    Hostile("dunder_import", "return __import__('os')", "JQ101", what="__import__"),
    Hostile("globals", "return globals()", "JQ120", what="globals"),
    Hostile("vars", "return vars(ctx)", "JQ120", what="vars"),
    Hostile("import_os", "return 1", "JQ111", prelude="import os", what="import os"),
    Hostile("from_os", "return system('true')", "JQ110", prelude="from os import system",
            what="from os import system"),
    Hostile("api_internals", "return 1", "JQ110",
            prelude="from jinqiao.contracts.api import declare",
            what="a name of the API module that is not the API"),
    # -- nondeterminism ----------------------------------------------------------------------
    Hostile("clock", "return time()", "JQ110", prelude="from time import time", what="clock"),
    Hostile("randomness", "return random()", "JQ110", prelude="from random import random",
            what="randomness"),
    Hostile("thread", "return 1", "JQ110", prelude="from threading import Thread",
            what="threads"),
    Hostile("async", "return 1", "JQ160", prelude="async def later():\n    return 1",
            what="async"),
    Hostile("generator", "return 1", "JQ161", prelude="def numbers():\n    yield 1",
            what="a generator function"),
    Hostile("float_literal", "return 1.5", "JQ130", what="a float"),
    Hostile("true_division", "return 7 / 2", "JQ131", what="true division makes a float"),
    Hostile("float_call", "return float(7)", "JQ130", what="float()"),
    Hostile("dict_of_floats", "return {1.5: 1, 2.5: 2}", "JQ130", what="a dict keyed by floats"),
    Hostile("set_literal", "return [x for x in {'b', 'a'}]", "JQ140", what="set order"),
    Hostile("set_call", "return list(set(['b', 'a']))", "JQ140", what="set()"),
    Hostile("set_comprehension", "return {x for x in 'ab'}", "JQ140",
            what="a set comprehension"),
    Hostile("identity", "return id(ctx)", "JQ141", what="id() is an address"),
    Hostile("hash_order", "return hash('a')", "JQ141", what="str hashes are salted per process"),
    Hostile("global_state", "global COUNT\nCOUNT = 1", "JQ162", prelude="COUNT = 0",
            what="global"),
    Hostile("module_mutable_state", "CACHE.append(1)\nreturn len(CACHE)", "JQ170",
            prelude="CACHE = []", what="a module-level list survives between calls"),
    Hostile("class_mutable_state", "return 1", "JQ171", class_prelude="seen = {}",
            what="a class-level dict survives between calls"),
    Hostile("mutable_default", "return 1", "JQ174",
            prelude="def remember(value, seen=[]):\n    return seen",
            what="a default argument survives between calls"),
    Hostile("catch_all", "try:\n    return 1\nexcept:\n    return 2", "JQ180",
            what="a bare except would catch the budget"),
    Hostile("catch_base_exception", "try:\n    return 1\nexcept BaseException:\n    return 2",
            "JQ180", what="except BaseException"),
    Hostile("format_spec_bomb", "return f'{1:>999999999}'", "JQ181",
            what="a format width builds a string of any size"),
    Hostile("lambda_recursion", "f = lambda g: g(g)\nreturn f(f)", "JQ163",
            what="anonymous recursion"),
    Hostile("assert_statement", "assert ctx.height > 0\nreturn 1", "JQ185",
            what="python -O removes asserts"),
    Hostile("with_statement", "with ctx:\n    return 1", "JQ182", what="hidden __enter__"),
    Hostile("match_statement", "match ctx:\n    case _:\n        return 1", "JQ184",
            what="match calls hidden methods"),
    # -- stopped by the sandbox --------------------------------------------------------------
    Hostile("infinite_loop", "while True:\n    pass", "out_of_steps", what="an infinite loop"),
    Hostile("cpu_bomb_for", "for i in range(10**12):\n    pass", "out_of_steps",
            what="a long for loop"),
    Hostile("cpu_bomb_builtin", "return sum(range(10**12))", "out_of_steps",
            what="a C builtin over a long range"),
    Hostile("cpu_bomb_comprehension", "return len([i for i in range(10**12)])", "out_of_steps",
            what="a long comprehension"),
    Hostile("loop_swallowed_by_except", "try:\n    while True:\n        pass\n"
            "except Exception:\n    pass\nreturn 1", "out_of_steps",
            what="except Exception does not catch the budget"),
    Hostile("loop_swallowed_by_finally", "try:\n    while True:\n        pass\nfinally:\n"
            "    return 1", "out_of_steps", what="a finally: return does not swallow it"),
    Hostile("power_bomb", "return 10**10**8", "out_of_memory",
            what="10**10**8 is refused before it is computed"),
    Hostile("string_repeat_bomb", "return 'a' * 10**10", "out_of_memory",
            what="'a' * 10**10 is refused before it is computed"),
    Hostile("list_repeat_bomb", "return len([0] * 10**9)", "out_of_memory",
            what="a big list repeat"),
    Hostile("shift_bomb", "return 1 << 10**9", "out_of_memory", what="a big shift"),
    Hostile("doubling_bomb", "s = 'ab'\nwhile True:\n    s = s + s", "out_of_memory",
            what="doubling a string"),
    Hostile("augmented_doubling_bomb", "s = b'ab'\nwhile True:\n    s *= 2", "out_of_memory",
            what="doubling with *="),
    Hostile("fstring_doubling_bomb", "s = 'ab'\nwhile True:\n    s = f'{s}{s}'",
            "out_of_memory", what="doubling through an f-string"),
    Hostile("extend_doubling_bomb", "a = [1]\nwhile True:\n    a.extend(a)", "out_of_steps",
            what="a list extended by itself"),
    Hostile("bytes_bomb", "return bytes(10**10)", "out_of_memory", what="bytes(n)"),
    Hostile("replace_bomb", "return 'ab'.replace('', 'x' * 1000000)", "out_of_memory",
            what="replace of the empty string"),
    Hostile("unpack_bomb", "return len([*range(10**9)])", "out_of_memory",
            what="unpacking a long range"),
    Hostile("sorted_bomb", "return sorted(range(10**9))", "out_of_memory",
            what="sorted() of a long range"),
    Hostile("scan_bomb", "s = 'a' * 200000\nwhile True:\n    s.count('b')", "out_of_steps",
            what="a C scan of a big string, repeated"),
    Hostile("compare_bomb", "a = [0] * 100000\nb = [0] * 100000\nwhile True:\n    a == b",
            "out_of_steps", what="comparing big lists, repeated"),
    Hostile("membership_bomb", "a = [0] * 100000\nwhile True:\n    5 in a", "out_of_steps",
            what="searching a big list, repeated"),
    Hostile("hash_bomb", "data = b'a' * 1000000\nwhile True:\n    sha256(data)",
            "out_of_steps", prelude="from hashlib import sha256",
            what="hashing a big value, repeated"),
    Hostile("from_bytes_bomb", "return int.from_bytes(b'\\xff' * 100000, 'big')",
            "out_of_memory", what="an integer of 800,000 bits from bytes"),
    Hostile("catch_own_rejection", "try:\n    ctx.reject('refused', 'no')\n"
            "except Exception:\n    pass\nreturn 1", "refused",
            what="catching ctx.reject to carry on"),
    Hostile("catch_state_refusal", "try:\n    ctx.state.set(b'', b'x')\n"
            "except Exception:\n    pass\nreturn 1", "invalid_state_key",
            what="catching a refused state write to carry on"),
    Hostile("unencodable_event", "ctx.emit('Big', value=2**100)", "invalid_event",
            what="an event value msgpack cannot encode"),
    Hostile("unencodable_result", "return [2**100]", "contract_error",
            what="a result msgpack cannot encode"),
    Hostile("percent_format_repr", "return '%s' % (ctx,)", "contract_error",
            what="%-formatting an object shows its address"),
    Hostile("percent_format_bomb", "return '%999999999d' % 1", "contract_error",
            what="a %-format width builds a string of any size"),
    Hostile("dict_view_set_order", "d = {'a': 1, 'b': 2}\nreturn list(d.keys() | {'c': 3}.keys())",
            "contract_error", what="dict views combine into sets (hash order)"),
    Hostile("codec_lookup", "return 'x'.encode('rot13')", "contract_error",
            what="a codec name loads codec modules"),
    Hostile("split_memory_bomb", "s = 'a ' * 100000\nkept = []\nwhile True:\n"
            "    kept.append(s.split())", "out_of_memory",
            what="keeping many split results (each charged its parts)"),
    Hostile("upper_memory_bomb", "s = 'a' * 200000\nkept = []\nwhile True:\n"
            "    kept.append(s.upper())", "out_of_memory",
            what="keeping many string copies"),
    Hostile("deep_recursion", "return down(0)", "recursion_too_deep",
            prelude="def down(n):\n    return down(n + 1)", what="unbounded recursion"),
    Hostile("self_recursion", "return self.attack(ctx, args)", "recursion_too_deep",
            what="a method calling itself"),
    Hostile("long_int_text", "return int('1' * 5000)", "contract_error",
            what="int() of long text (refused the same way on every node)"),
    Hostile("negative_power", "return 2 ** -1", "contract_error",
            what="a negative exponent would make a float"),
    Hostile("str_of_context", "return str(ctx)", "contract_error",
            what="str() of an object (its repr has an address)"),
    Hostile("attribute_state_on_self", "self.count = 1\nreturn 1", "contract_error",
            what="state kept on the contract object"),
    Hostile("read_other_contract", "return ctx.read('token', b'supply/CNY')", "contract_error",
            what="the context offers no read of other contracts"),
    Hostile("call_other_contract",
            "return ctx.call('token', 'mint', asset='CNY', recipient=ctx.sender, amount_minor=1)",
            "unauthorized", what="minting through ctx.call: the token's own rules refuse it"),
    Hostile("call_a_query_as_a_method", "return ctx.call('token', 'balance')", "unknown_method",
            what="ctx.call reaches declared methods only, not queries"),
    Hostile("bound_method_owner", "return getattr(ctx.emit, 'im_self')", "contract_error",
            what="no attribute of a method object"),
    Hostile("module_internals", "return getattr(sha256, 'new')", "contract_error",
            prelude="from hashlib import sha256", what="an allowed module is only its names"),
]  # fmt: skip

ESCAPE_NAMESPACE = Hostile(
    "write_other_namespace",
    "ctx.state.set(b'../token/supply/CNY', b'x')\nctx.state.set(b'/token/x', b'x')\nreturn 1",
    "own_namespace",
    what="keys only ever extend the contract's own prefix",
)
