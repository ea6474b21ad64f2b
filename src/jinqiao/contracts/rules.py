"""The static review of a member contract's source: the deterministic subset, as rules.

``review_source`` parses the source once, walks it with this module's own rules (each finding
names a line and a rule code from ``RULES``) and then runs RestrictedPython's transformer, whose
refusals are reported under ``JQ101``. A source with no finding is what ``jinqiao.contracts.
sandbox`` agrees to compile and run; the sandbox re-checks at run time what a static rule cannot
see (names built at run time, values' sizes, steps).

Why both: RestrictedPython is maintained and knows the escapes of restricted Python (names and
attributes starting with ``_``, frame and generator attributes, ``exec``/``eval``, metaclasses);
it says nothing about determinism (floats, sets, clocks, hash order), state kept between calls or
the shape of a contract, which are this chain's rules.
"""

from __future__ import annotations

import ast
import re
import threading
from dataclasses import dataclass

from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer

from jinqiao.contracts.limits import MAX_SOURCE_BYTES


@dataclass(frozen=True)
class Rule:
    code: str
    title: str
    reason: str


RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in (
        Rule(
            "JQ100", "syntax error", "the source must parse as Python 3.11, within the size limit"
        ),
        Rule(
            "JQ101",
            "refused by RestrictedPython",
            "names and attributes starting with `_`, frame, code and generator attributes, "
            "`exec`/`eval`, `metaclass=`, augmented assignment of attributes: the known escapes "
            "of restricted Python, as the maintained library knows them",
        ),
        Rule(
            "JQ110",
            "import not allowed",
            "a contract may import only the contract API (`jinqiao.contracts.api`), "
            "`from __future__ import annotations` and `sha256`/`sha3_256` from `hashlib`; "
            "anything else could reach the clock, randomness, files, threads or the node",
        ),
        Rule(
            "JQ111",
            "import form not allowed",
            "only `from MODULE import NAME` (no `import MODULE`, no `*`, no relative import): "
            "every name a contract uses is then visible at its top",
        ),
        Rule(
            "JQ120",
            "forbidden builtin",
            "`exec`, `eval`, `compile`, `open`, `__import__`, `globals`, `locals`, `vars`, "
            "`dir`, `type`, `object`, `super`, `setattr`, `delattr`, `print`, `input`, "
            "`breakpoint`, `iter`, `next`, `memoryview`, `bytearray`, `classmethod`, "
            "`staticmethod`, `property`: code execution, introspection, I/O and ways around the "
            "metered iteration; the sandbox does not provide them either",
        ),
        Rule(
            "JQ121",
            "getattr with an underscore or computed name",
            "`getattr`/`hasattr` must name a literal attribute not starting with `_`; a computed "
            "name would hide a dunder walk from the review",
        ),
        Rule(
            "JQ122",
            "introspection attribute",
            "`format`, `format_map` (attribute walks such as `'{0.__class__}'`), `mro`, and the "
            "frame, traceback and generator attributes (`gi_frame`, `tb_frame`, `f_globals`, ...)",
        ),
        Rule(
            "JQ130",
            "float",
            "float and complex literals, `float()`, `complex()`: binary floating point rounds "
            "differently across platforms and libraries, and money is integer minor units",
        ),
        Rule(
            "JQ131",
            "true division",
            "`/` and `/=` produce floats even from integers; use `//` and `divmod`",
        ),
        Rule(
            "JQ140",
            "set",
            "set and frozenset literals, comprehensions and constructors: their iteration order "
            "depends on hashing, which differs between processes for strings and bytes",
        ),
        Rule(
            "JQ141",
            "identity or hash",
            "`id()` and `hash()` differ between processes and runs",
        ),
        Rule(
            "JQ160",
            "async",
            "`async def`, `await`, `async for`, `async with`: a call runs to completion in one "
            "block; there is no event loop",
        ),
        Rule(
            "JQ161",
            "generator function",
            "`yield`: a suspended frame outlives the call that metered it",
        ),
        Rule(
            "JQ162",
            "global or nonlocal",
            "`global` and `nonlocal` write state that outlives a call outside the chain's state",
        ),
        Rule("JQ163", "lambda", "unnamed functions recurse without a name the review can follow"),
        Rule(
            "JQ170",
            "module-level statement",
            "the module holds only imports, constants (numbers, strings, bytes, booleans, "
            "`None`, arithmetic on literals and tuples of them), functions and the contract "
            "class: anything else runs once per node and could keep state between calls",
        ),
        Rule(
            "JQ171",
            "class-level statement",
            "the contract class holds only its docstring, constants and methods, none of them "
            "special (`__init__`, `__eq__`, ...): a class attribute that can change is state "
            "kept outside the chain, and a special method runs where no call is written",
        ),
        Rule(
            "JQ172",
            "class definition",
            "exactly one class, deriving from `Contract` only, without keywords: other classes "
            "and bases are how metaclass and `type()` tricks enter",
        ),
        Rule(
            "JQ173",
            "decorator",
            "only `@method` and `@query` (with literal arguments) on the contract's methods: any "
            "other decorator runs code at load time and replaces the function the review read",
        ),
        Rule(
            "JQ174",
            "mutable default argument",
            "a default argument value is created once and shared by every call: it must be a "
            "constant",
        ),
        Rule(
            "JQ180",
            "catch-all exception handler",
            "bare `except:` and `except BaseException`: budget exhaustion must not be caught",
        ),
        Rule(
            "JQ181",
            "f-string format",
            "format specifications and conversions (`{x:>99999}`, `{x!r}`) build strings whose "
            "size the sandbox cannot bound in advance",
        ),
        Rule(
            "JQ182",
            "with statement",
            "context managers run hidden methods; a contract has nothing to open or close",
        ),
        Rule(
            "JQ183",
            "shadowed builtin",
            "assigning, defining or taking as a parameter a builtin's name (`len`, `range`, "
            "...) or a contract API name makes code mean something other than what it reads as",
        ),
        Rule(
            "JQ184",
            "match statement",
            "`match` calls hidden methods (`__match_args__`, `__eq__`) the review cannot see",
        ),
        Rule(
            "JQ185",
            "assert",
            "`python -O` removes asserts, so nodes started differently would disagree; use "
            "`ctx.reject`",
        ),
        Rule(
            "JQ190",
            "the module does not load",
            "running the module's top level (its constants and definitions) raised or ran out "
            "of budget",
        ),
        Rule(
            "JQ200",
            "manifest",
            "the manifest must parse, name the contract, and list exactly the methods and "
            "queries the code declares, with known argument types",
        ),
    )
}

SANDBOX_BUILTINS = frozenset(
    {
        "abs", "all", "any", "bool", "bytes", "divmod", "dict", "enumerate", "getattr",
        "hasattr", "int", "isinstance", "len", "list", "max", "min", "range", "reversed",
        "sorted", "str", "sum", "tuple", "zip", "chr", "ord", "hex",
        "ValueError", "KeyError", "IndexError", "ZeroDivisionError", "ArithmeticError",
        "LookupError", "Exception", "None", "True", "False",
    }
)  # fmt: skip
"""The builtins the sandbox provides; the rule JQ183 keeps their names from being rebound."""

API_NAMES = frozenset({"Contract", "method", "query"})
API_MODULE = "jinqiao.contracts.api"
ALLOWED_IMPORTS: dict[str, frozenset[str]] = {
    API_MODULE: API_NAMES,
    "__future__": frozenset({"annotations"}),
    "hashlib": frozenset({"sha256", "sha3_256"}),
}

FORBIDDEN_BUILTINS = frozenset(
    {
        "exec", "eval", "compile", "open", "__import__", "globals", "locals", "vars", "dir",
        "type", "object", "super", "setattr", "delattr", "print", "input", "breakpoint",
        "iter", "next", "aiter", "anext", "memoryview", "bytearray", "classmethod",
        "staticmethod", "property", "help", "exit", "quit", "__build_class__", "callable",
    }
)  # fmt: skip
FLOAT_BUILTINS = frozenset({"float", "complex"})
SET_BUILTINS = frozenset({"set", "frozenset"})
IDENTITY_BUILTINS = frozenset({"id", "hash"})
INTROSPECTION_ATTRIBUTES = frozenset(INSPECT_ATTRIBUTES | {"format", "format_map", "mro"})
DECORATORS = frozenset({"method", "query"})
CATCH_ALL = frozenset({"BaseException"})


@dataclass(frozen=True, order=True)
class Finding:
    """One refusal: where, which rule, and what was seen."""

    line: int
    code: str
    message: str
    file: str = ""
    """The file the finding is in when it is not the source (the manifest)."""

    def describe(self, filename: str) -> str:
        return f"{self.file or filename}:{self.line}: {self.code} {self.message}"


def is_constant(node: ast.expr) -> bool:
    """An immutable literal: a number (not a float), string, bytes, boolean, ``None``, a
    negated number, arithmetic on these (``90 * DAY_MS`` is not, ``10**15`` is: names are not
    followed), or a tuple of these. Arithmetic runs metered when the module loads."""
    if isinstance(node, ast.Constant):
        return not isinstance(node.value, float | complex)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return is_constant(node.operand)
    if isinstance(node, ast.BinOp) and not isinstance(node.op, ast.Div):
        return is_constant(node.left) and is_constant(node.right)
    if isinstance(node, ast.Tuple):
        return all(is_constant(element) for element in node.elts)
    return False


class Reviewer(ast.NodeVisitor):
    """Walks a parsed contract and collects ``Finding``s. Structure rules (what may stand at
    module and class level) are checked by ``review_module``; this visitor checks every node."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def add(self, node: ast.AST, code: str, message: str) -> None:
        self.findings.append(Finding(getattr(node, "lineno", 0), code, message))

    # -- imports ---------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        names = ", ".join(alias.name for alias in node.names)
        self.add(node, "JQ111", f"`import {names}`: use `from MODULE import NAME`")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            self.add(node, "JQ111", "relative imports are not allowed")
            return
        allowed = ALLOWED_IMPORTS.get(module)
        if allowed is None:
            self.add(node, "JQ110", f"module {module!r} is not on the allow-list")
            return
        for alias in node.names:
            if alias.name == "*":
                self.add(node, "JQ111", f"`from {module} import *`")
            elif alias.name not in allowed:
                self.add(node, "JQ110", f"{module}.{alias.name} is not on the allow-list")
            elif alias.asname is not None and alias.asname != alias.name:
                self.add(node, "JQ111", f"{alias.name} imported as {alias.asname}")

    # -- names and attributes --------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        name = node.id
        if isinstance(node.ctx, ast.Store | ast.Del) and name in SANDBOX_BUILTINS | API_NAMES:
            self.add(node, "JQ183", f"{name!r} rebinds a builtin or contract API name")
        if name in FORBIDDEN_BUILTINS:
            self.add(node, "JQ120", f"{name!r} is not available to contracts")
        elif name in FLOAT_BUILTINS:
            self.add(node, "JQ130", f"{name}() makes a float")
        elif name in SET_BUILTINS:
            self.add(node, "JQ140", f"{name}() iterates in hash order")
        elif name in IDENTITY_BUILTINS:
            self.add(node, "JQ141", f"{name}() differs between processes")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in INTROSPECTION_ATTRIBUTES:
            self.add(node, "JQ122", f"attribute {node.attr!r}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        function = node.func
        if isinstance(function, ast.Name) and function.id in {"getattr", "hasattr"}:
            name = node.args[1] if len(node.args) > 1 else None
            if not (
                isinstance(name, ast.Constant)
                and isinstance(name.value, str)
                and not name.value.startswith("_")
                and name.value not in INTROSPECTION_ATTRIBUTES
            ):
                self.add(node, "JQ121", f"{function.id}() needs a literal public attribute name")
        self.generic_visit(node)

    # -- values ----------------------------------------------------------------------------
    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, float | complex):
            self.add(node, "JQ130", f"literal {node.value!r}")

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.Div):
            self.add(node, "JQ131", "`/` makes a float; use `//`")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.op, ast.Div):
            self.add(node, "JQ131", "`/=` makes a float; use `//=`")
        self.generic_visit(node)

    def visit_Set(self, node: ast.Set) -> None:
        self.add(node, "JQ140", "set literal")
        self.generic_visit(node)

    def visit_SetComp(self, node: ast.SetComp) -> None:
        self.add(node, "JQ140", "set comprehension")
        self.generic_visit(node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> None:
        if node.format_spec is not None or node.conversion != -1:
            self.add(node, "JQ181", "f-string format specification or conversion")
        self.visit(node.value)

    # -- control flow ----------------------------------------------------------------------
    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self.add(node, "JQ160", "async def")
        self.generic_visit(node)

    def visit_Await(self, node: ast.Await) -> None:
        self.add(node, "JQ160", "await")

    def visit_AsyncFor(self, node: ast.AsyncFor) -> None:
        self.add(node, "JQ160", "async for")

    def visit_AsyncWith(self, node: ast.AsyncWith) -> None:
        self.add(node, "JQ160", "async with")

    def visit_Yield(self, node: ast.Yield) -> None:
        self.add(node, "JQ161", "yield")
        self.generic_visit(node)

    def visit_YieldFrom(self, node: ast.YieldFrom) -> None:
        self.add(node, "JQ161", "yield from")
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> None:
        self.add(node, "JQ162", "global")

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.add(node, "JQ162", "nonlocal")

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.add(node, "JQ163", "lambda")
        self.generic_visit(node)

    def visit_With(self, node: ast.With) -> None:
        self.add(node, "JQ182", "with")
        self.generic_visit(node)

    def visit_Assert(self, node: ast.Assert) -> None:
        self.add(node, "JQ185", "assert; use ctx.reject")
        self.generic_visit(node)

    def visit_Match(self, node: ast.Match) -> None:
        self.add(node, "JQ184", "match")
        self.generic_visit(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        caught = node.type
        names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
        if caught is None or any(
            isinstance(name, ast.Name) and name.id in CATCH_ALL for name in names
        ):
            self.add(node, "JQ180", "a handler that would catch budget exhaustion")
        if node.name is not None and node.name in SANDBOX_BUILTINS | API_NAMES:
            self.add(node, "JQ183", f"{node.name!r} rebinds a builtin or contract API name")
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.check_function(node)
        self.generic_visit(node)

    def check_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if node.name in SANDBOX_BUILTINS | API_NAMES:
            self.add(node, "JQ183", f"function {node.name!r} shadows a builtin or API name")
        arguments = node.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
        for argument in every:
            if argument.arg in SANDBOX_BUILTINS | API_NAMES:
                self.add(node, "JQ183", f"parameter {argument.arg!r} shadows a builtin")
        for default in [*arguments.defaults, *arguments.kw_defaults]:
            if default is not None and not is_constant(default):
                self.add(default, "JQ174", "a default argument value that is not a constant")

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        # The class's shape is checked by review_module; here only what is inside.
        self.generic_visit(node)


def review_module(tree: ast.Module, reviewer: Reviewer) -> None:
    """The structure rules: what may stand at module level and in the one contract class."""
    classes = 0
    for index, statement in enumerate(tree.body):
        if is_docstring(statement, index) or isinstance(statement, ast.ImportFrom | ast.Import):
            continue
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            if statement.decorator_list:
                reviewer.add(statement, "JQ173", "a module-level function has a decorator")
            continue
        if isinstance(statement, ast.Assign | ast.AnnAssign):
            check_constant_assignment(statement, reviewer, "JQ170")
            continue
        if isinstance(statement, ast.ClassDef):
            classes += 1
            review_class(statement, reviewer)
            continue
        reviewer.add(statement, "JQ170", f"{type(statement).__name__} at module level")
    if classes != 1:
        reviewer.add(tree, "JQ172", f"the module defines {classes} classes; a contract is one")


def is_docstring(statement: ast.stmt, index: int) -> bool:
    return (
        index == 0
        and isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def check_constant_assignment(
    statement: ast.Assign | ast.AnnAssign, reviewer: Reviewer, code: str
) -> None:
    targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
    if not all(isinstance(target, ast.Name) for target in targets):
        reviewer.add(statement, code, "only names may be assigned here")
    if statement.value is None or not is_constant(statement.value):
        reviewer.add(statement, code, "only constants (no lists, dicts or calls) here")


def review_class(node: ast.ClassDef, reviewer: Reviewer) -> None:
    if (
        len(node.bases) != 1
        or not isinstance(node.bases[0], ast.Name)
        or node.bases[0].id != "Contract"
        or node.keywords
    ):
        reviewer.add(node, "JQ172", f"class {node.name} must derive from Contract alone")
    if node.decorator_list:
        reviewer.add(node, "JQ173", "a class decorator")
    for index, statement in enumerate(node.body):
        if is_docstring(statement, index):
            continue
        if isinstance(statement, ast.Assign | ast.AnnAssign):
            check_constant_assignment(statement, reviewer, "JQ171")
        elif isinstance(statement, ast.FunctionDef):
            if statement.name.startswith("_"):
                reviewer.add(statement, "JQ171", f"special method {statement.name!r}")
            for decorator in statement.decorator_list:
                check_decorator(decorator, reviewer)
        elif not isinstance(statement, ast.AsyncFunctionDef):  # JQ160 reports those
            reviewer.add(statement, "JQ171", f"{type(statement).__name__} in the class body")


def check_decorator(decorator: ast.expr, reviewer: Reviewer) -> None:
    """``@method``, ``@query``, or either called with constant arguments (``roles=(...)``)."""
    if isinstance(decorator, ast.Name) and decorator.id in DECORATORS:
        return
    if (
        isinstance(decorator, ast.Call)
        and isinstance(decorator.func, ast.Name)
        and decorator.func.id in DECORATORS
        and all(is_constant(argument) for argument in decorator.args)
        and all(is_constant(keyword.value) for keyword in decorator.keywords)
    ):
        return
    reviewer.add(decorator, "JQ173", "only @method and @query, with constant arguments")


LINE = re.compile(r"^Line (\d+): (.*)$", re.DOTALL)


AST_LOCK = threading.RLock()
"""Held around every conversion between source, Python AST objects and code (``ast.parse``,
``compile`` of a tree). CPython 3.11 counts the recursion depth of those conversions in state
shared by all threads, so two threads converting at once (a node's consensus thread executing a
member contract while an API thread loads it for a query) can fail with ``SystemError: AST
constructor recursion depth mismatch`` — a demo validator stopped on exactly that. One lock
makes the conversions take turns; RestrictedPython's transformer parses too, so it runs under it."""


def restricted_python_findings(tree: ast.Module) -> list[Finding]:
    """RestrictedPython's own refusals of ``tree`` (which it transforms in place: pass a copy)."""
    errors: list[str] = []
    with AST_LOCK:  # the transformer parses snippets of its own (a class's template)
        RestrictingNodeTransformer(errors, [], {}).visit(tree)
    findings = []
    for error in errors:
        match = LINE.match(error)
        line, text = (int(match.group(1)), match.group(2)) if match else (0, error)
        findings.append(Finding(line, "JQ101", text))
    return findings


def parse(source: str, filename: str) -> ast.Module | Finding:
    """The parsed module, or the JQ100 finding that says why not."""
    size = len(source.encode())
    if size > MAX_SOURCE_BYTES:
        return Finding(0, "JQ100", f"the source is {size} bytes, over {MAX_SOURCE_BYTES}")
    try:
        with AST_LOCK:
            return ast.parse(source, filename, feature_version=(3, 11))
    except SyntaxError as exc:
        return Finding(exc.lineno or 0, "JQ100", exc.msg)
    except (ValueError, RecursionError, MemoryError) as exc:
        # A NUL byte, or nesting deeper than the parser takes.
        return Finding(0, "JQ100", f"the source cannot be parsed: {type(exc).__name__}")


def review_source(source: str, filename: str = "contract.py") -> list[Finding]:
    """Every finding of every rule, sorted by line; empty means the source is in the subset."""
    tree = parse(source, filename)
    if isinstance(tree, Finding):
        return [tree]
    reviewer = Reviewer()
    try:
        reviewer.visit(tree)
        review_module(tree, reviewer)
        findings = set(reviewer.findings)
        with AST_LOCK:
            copy = ast.parse(source, filename)
        findings.update(restricted_python_findings(copy))
    except RecursionError:
        return [Finding(0, "JQ100", "the source nests deeper than the review follows")]
    return sorted(findings)
