"""Edwards25519 point arithmetic (RFC 8032 §5.1), only to *build* the edge-case signatures that
docs/proofs.md §3.2 lists — small-order and non-canonical points, unreduced scalars, mixed-order
keys. Nothing here verifies a signature: that is PyNaCl's (libsodium's) job, under test."""

from __future__ import annotations

import hashlib

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, -1, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)

Point = tuple[int, int]
IDENTITY: Point = (0, 1)


def add(first: Point, second: Point) -> Point:
    (x1, y1), (x2, y2) = first, second
    t = D * x1 * x2 * y1 * y2 % P
    x3 = (x1 * y2 + x2 * y1) * pow(1 + t, -1, P) % P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, -1, P) % P
    return x3, y3


def negate(point: Point) -> Point:
    return (-point[0]) % P, point[1]


def multiply(scalar: int, point: Point) -> Point:
    result = IDENTITY
    while scalar:
        if scalar & 1:
            result = add(result, point)
        point = add(point, point)
        scalar >>= 1
    return result


def x_for(y: int, sign: int) -> int | None:
    """The x with the given sign bit on the curve at ``y``, or None if there is none."""
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if v * x * x % P == (-u) % P:
        x = x * SQRT_M1 % P
    if v * x * x % P != u:
        return None
    if x == 0 and sign:
        return None
    return P - x if x & 1 != sign else x


def encode(point: Point) -> bytes:
    x, y = point
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def decode(data: bytes) -> Point:
    number = int.from_bytes(data, "little")
    y, sign = number & ((1 << 255) - 1), number >> 255
    x = x_for(y % P, sign)
    if x is None:
        raise ValueError("not a point")
    return x, y % P


BASE: Point = (x_for(4 * pow(5, -1, P) % P, 0) or 0, 4 * pow(5, -1, P) % P)


def secret_scalar(seed: bytes) -> int:
    digest = bytearray(hashlib.sha512(seed).digest()[:32])
    digest[0] &= 248
    digest[31] &= 127
    digest[31] |= 64
    return int.from_bytes(digest, "little")


def challenge(r_bytes: bytes, public_key: bytes, message: bytes) -> int:
    return int.from_bytes(hashlib.sha512(r_bytes + public_key + message).digest(), "little") % L


def order_8_point() -> Point:
    """A point of order exactly 8 (a torsion point): [L]Q for a Q outside the prime-order group."""
    for y in range(2, 1000):
        x = x_for(y, 0)
        if x is None:
            continue
        torsion = multiply(L, (x, y))
        if multiply(4, torsion) != IDENTITY:
            return torsion
    raise AssertionError("no order-8 point found")
