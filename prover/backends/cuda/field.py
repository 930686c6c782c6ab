"""Fr arithmetic on eight 32-bit limbs in Montgomery form, as plain Python device functions.

An element x of Fr (BLS12-381 scalar field, r < 2^255) is held as the residue x R mod r with
R = 2^256, in eight little-endian 32-bit limbs: one row of a uint32[n, 8] array in memory,
an 8-tuple of uint64 values below 2^32 in registers. These are the same bytes as the CPU
backend's uint64[n, 4] rows on a little-endian host (``prover/backends/cpu/montgomery.py``),
and the same residues: with R = 2^256 in both, CIOS over 8 x 32-bit limbs and over 4 x
64-bit limbs compute the same x y R^-1 mod r.

Every product of two limbs is taken in uint64 (a 32 x 32 -> 64-bit product), and every sum
is bounded so that nothing wraps: a b + c + d <= (2^32 - 1)^2 + 2 (2^32 - 1) = 2^64 - 1.
Subtractions never go below zero either (a borrow is computed as a + (2^32 - 1 - b) + k).
That makes the code mean the same thing under every integer typing it meets (gpu-backend
reference notes, section 1.4): compiled numba (CUDA or ``njit``: uint64 products, no wrap)
and the CUDA simulator (NumPy scalars: uint32 products would wrap there). Constants are
uint64 globals, never Python ints, so no expression turns into int64 or float64.

Multiplication is the CIOS method (Koc, Acar and Kaliski, "Analyzing and Comparing
Montgomery Multiplication Algorithms", IEEE Micro 16(3), 1996) with the "no-carry" shortcut
of gnark-crypto ("Faster big-integer modular multiplication for most moduli", 2020): the top
limb of r (0x73eda753) is below (2^32 - 1)/2 - 1, so each outer iteration's final carry fits
in the top limb and no ninth word is needed. The final conditional subtraction and the
borrow correction of ``fr_sub`` are selects, not branches (NVVM emits ``selp``).

The functions are generated as straight-line code (no loops, no arrays, scalar locals only)
so that they stay in registers on the GPU, for any modulus meeting the no-carry condition
(``generate``: Fr on 8 limbs here, BLS12-381's Fp on 12 limbs in ``g1.py``), and are built by
``build(jit)`` / ``compile_functions`` for each execution path: ``numba.cuda.jit(device=True)``
for kernels, ``numba.njit`` for the compiled CPU tests, and the identity for plain Python
(what the simulator runs). None calls another, so one source serves every path.
"""

from __future__ import annotations

import linecache
from types import SimpleNamespace

import numpy as np

from verifier.field import MODULUS

LIMBS = 8
LIMB_BITS = 32
_MASK = (1 << LIMB_BITS) - 1

#: Montgomery radix R = 2^256 (the CPU backend's, so residues agree bit for bit).
MONTGOMERY_R = 1 << (LIMBS * LIMB_BITS)
MONTGOMERY_R_INV = pow(MONTGOMERY_R, -1, MODULUS)
#: -r^-1 mod 2^32: the CIOS multiplier that zeroes the low limb at each step.
N_PRIME = -pow(MODULUS, -1, 1 << LIMB_BITS) % (1 << LIMB_BITS)


def int_to_limbs(x: int) -> tuple[int, ...]:
    """The eight little-endian 32-bit limbs of 0 <= x < 2^256."""
    return tuple((x >> (LIMB_BITS * k)) & _MASK for k in range(LIMBS))


def limbs_to_int(limbs) -> int:
    """Inverse of ``int_to_limbs`` (any sequence of eight limbs, e.g. a numpy row)."""
    return sum(int(w) << (LIMB_BITS * k) for k, w in enumerate(limbs))


def to_montgomery_int(x: int) -> int:
    """x R mod r for any Python int x."""
    return x % MODULUS * MONTGOMERY_R % MODULUS


def from_montgomery_int(limbs) -> int:
    """The canonical integer in [0, r) of a Montgomery residue given as eight limbs."""
    return limbs_to_int(limbs) * MONTGOMERY_R_INV % MODULUS


def limb_tuple(x: int) -> tuple:
    """0 <= x < 2^256 as the register form: an 8-tuple of np.uint64 limbs."""
    return tuple(np.uint64(w) for w in int_to_limbs(x))


#: Register-form constants (8-tuples of uint64).
ZERO = limb_tuple(0)
#: 1 in Montgomery form (R mod r).
ONE = limb_tuple(MONTGOMERY_R % MODULUS)
#: R^2 mod r: fr_mul(x, R2) = x R, the entry into Montgomery form.
R2 = limb_tuple(MONTGOMERY_R**2 % MODULUS)
#: The plain integer 1: fr_mul(x R, 1) = x, the exit from Montgomery form.
CANONICAL_ONE = limb_tuple(1)


def _constants(modulus: int, limbs: int) -> dict:
    """The uint64 globals the generated code reads (numba freezes them as constants)."""
    c = {
        "np": np,
        "MASK": np.uint64(_MASK),
        "SHIFT": np.uint64(LIMB_BITS),
        "UONE": np.uint64(1),
        "NPRIME": np.uint64(-pow(modulus, -1, 1 << LIMB_BITS) % (1 << LIMB_BITS)),
    }
    for k in range(limbs):
        q = (modulus >> (LIMB_BITS * k)) & _MASK
        c[f"Q{k}"] = np.uint64(q)
        # t_k - q_k - borrow as t_k + (2^32 - 1 - q_k) + (1 - borrow): never negative.
        c[f"NQ{k}"] = np.uint64(_MASK - q)
    return c


def _unpack(name: str, tup: str, limbs: int) -> str:
    """Unpack a tuple into uint64 locals. The casts are free for uint64 limbs and make a
    tuple of other integers (Python ints boxed out of numba are typed int64 when they come
    back in, and int64 products and shifts are signed) mean the same limbs."""
    return "".join(f"    {name}{k} = np.uint64({tup}[{k}])\n" for k in range(limbs))


def _minus_modulus(src: str, dst: str, limbs: int) -> str:
    """dst = src - q limb by limb; leaves k = 1 iff no borrow (src >= q)."""
    lines = ["    k = UONE\n"]
    for j in range(limbs):
        lines.append(f"    s = {src}{j} + NQ{j} + k\n")
        lines.append(f"    {dst}{j} = s & MASK\n")
        lines.append("    k = s >> SHIFT\n")
    return "".join(lines)


def _select(limbs: int, if_k: str, else_: str) -> str:
    return "    return (" + ", ".join(f"{if_k}{j} if k == UONE else {else_}{j}" for j in range(limbs)) + ")\n"


def _gen_add(p: str, limbs: int) -> str:
    src = [f"def {p}_add(a, b):\n",
           ('    """a + b mod q for reduced a, b: a + b < 2q < 2^(32 limbs), then one\n'
            '    conditional subtraction of q."""\n'),
           _unpack("a", "a", limbs), _unpack("b", "b", limbs), "    c = np.uint64(0)\n"]
    for j in range(limbs):
        src.append(f"    s = a{j} + b{j} + c\n    t{j} = s & MASK\n    c = s >> SHIFT\n")
    src.append(_minus_modulus("t", "d", limbs))
    src.append(_select(limbs, "d", "t"))
    return "".join(src)


def _gen_sub(p: str, limbs: int) -> str:
    src = [f"def {p}_sub(a, b):\n",
           '    """a - b mod q for reduced a, b: the difference, plus q if it borrowed."""\n',
           _unpack("a", "a", limbs), _unpack("b", "b", limbs), "    k = UONE\n"]
    for j in range(limbs):
        # a_j - b_j - (1 - k) = a_j + (2^32 - 1 - b_j) + k - 2^32
        src.append(f"    s = a{j} + (MASK - b{j}) + k\n    d{j} = s & MASK\n    k = s >> SHIFT\n")
    # k = 1: no borrow, d is the result; k = 0: d + q (mod 2^(32 limbs)) is.
    src.append("    c = np.uint64(0)\n")
    for j in range(limbs):
        src.append(f"    s = d{j} + Q{j} + c\n    e{j} = s & MASK\n    c = s >> SHIFT\n")
    src.append(_select(limbs, "d", "e"))
    return "".join(src)


def _gen_mul(p: str, limbs: int) -> str:
    src = [f"def {p}_mul(a, b):\n",
           ('    """Montgomery product a b R^-1 mod q (no-carry CIOS on 32-bit limbs, Koc et al.\n'
            '    1996; gnark-crypto 2020) for reduced a, b; Montgomery forms multiply to\n'
            '    Montgomery form."""\n'),
           _unpack("a", "a", limbs), _unpack("b", "b", limbs)]
    src.append("    " + " = ".join(f"t{j}" for j in range(limbs)) + " = np.uint64(0)\n")
    for i in range(limbs):
        src.append(f"    # outer iteration {i}: t = (t + a b_{i} + m q) / 2^32\n")
        src.append(f"    s = a0 * b{i} + t0\n    t0 = s & MASK\n    A = s >> SHIFT\n")
        # m = t0 N' mod 2^32 (the uint32 round trip is meant to keep it visibly 32-bit).
        src.append("    m = np.uint64(np.uint32((t0 * NPRIME) & MASK))\n")
        src.append("    C = (m * Q0 + t0) >> SHIFT\n")
        for j in range(1, limbs):
            src.append(f"    s = a{j} * b{i} + t{j} + A\n    t{j} = s & MASK\n    A = s >> SHIFT\n")
            src.append(f"    s = m * Q{j} + t{j} + C\n    t{j - 1} = s & MASK\n    C = s >> SHIFT\n")
        src.append(f"    t{limbs - 1} = C + A\n")
    src.append(_minus_modulus("t", "d", limbs))
    src.append(_select(limbs, "d", "t"))
    return "".join(src)


def _gen_load_store(p: str, limbs: int) -> str:
    load = (f"def {p}_load(x, i):\n"
            f'    """Row i of a uint32[n, {limbs}] array as the register form (tuple of uint64)."""\n'
            "    return (" + ", ".join(f"np.uint64(x[i, {k}])" for k in range(limbs)) + ")\n")
    store = (f"def {p}_store(x, i, v):\n"
             f'    """Write the register form v (limbs < 2^32) as row i of a uint32[n, {limbs}] array."""\n'
             + "".join(f"    x[i, {k}] = np.uint32(v[{k}])\n" for k in range(limbs)))
    return load + "\n\n" + store


def _gen_is_zero(p: str, limbs: int) -> str:
    return (f"def {p}_is_zero(a):\n"
            '    """Whether every limb is 0 (0 is its own Montgomery form)."""\n'
            "    return (" + " | ".join(f"np.uint64(a[{k}])" for k in range(limbs)) + ") == np.uint64(0)\n")


def generate(prefix: str, modulus: int, limbs: int) -> str:
    """The source of ``{prefix}_add/_sub/_mul/_is_zero/_load/_store`` for a modulus of ``limbs`` 32-bit
    limbs (Montgomery radix 2^(32 limbs)); the modulus must leave the no-carry condition."""
    top = (modulus >> (LIMB_BITS * (limbs - 1))) & _MASK
    if modulus >> (LIMB_BITS * limbs) or not top < (_MASK >> 1) - 1:
        raise ValueError("modulus does not meet the no-carry condition on these limbs")
    gens = (_gen_add, _gen_sub, _gen_mul, _gen_is_zero, _gen_load_store)
    return "\n\n".join(g(prefix, limbs) for g in gens) + "\n"


def compile_functions(prefix: str, modulus: int, limbs: int, jit=None) -> SimpleNamespace:
    """``generate``'s functions wrapped by ``jit`` (None: plain Python, what the simulator
    runs). Each call executes the source afresh in its own globals, so the CUDA, njit and
    Python variants never share dispatchers."""
    source = generate(prefix, modulus, limbs)
    filename = f"<zktrain cuda {prefix} functions>"
    # numba and tracebacks read source lines through linecache.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = _constants(modulus, limbs)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 (our own generated source)
    names = [f"{prefix}_{op}" for op in ("add", "sub", "mul", "is_zero", "load", "store")]
    funcs = {name: namespace[name] for name in names}
    if jit is not None:
        funcs = {name: jit(f) for name, f in funcs.items()}
        namespace.update(funcs)
    return SimpleNamespace(**funcs)


#: The generated source of Fr's device functions (readable: ``print(field.SOURCE)``).
SOURCE = generate("fr", MODULUS, LIMBS)


def build(jit=None) -> SimpleNamespace:
    """Fr's device functions ``fr_add/fr_sub/fr_mul/fr_is_zero/fr_load/fr_store`` wrapped by
    ``jit`` (None: plain Python)."""
    return compile_functions("fr", MODULUS, LIMBS, jit)
