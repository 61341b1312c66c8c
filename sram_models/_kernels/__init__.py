"""Private numba kernels: packing, sparse fault sampling, SECDED, read statistics.

Every kernel works on plain arrays and scalars and takes an explicit 64-bit
seed.  Random numbers come from an inline SplitMix64 generator (Steele et al.,
OOPSLA 2014; passes BigCrush) whose state is a local variable of the kernel: a
result depends on the seed only, and a draw costs a few ns (numba's
``np.random.random`` costs about 25 ns a call here, more than the rest of a
flip).  The public classes in ``layout``/``faults`` validate input and
call these; nothing here checks its arguments.

Storage convention (see ``layout.py``): a memory image is a C-contiguous
``uint64`` array of shape ``(n_words, lanes)``; physical bit ``b`` of word ``w``
is bit ``b % 64`` of ``words[w, b // 64]``.  A cell index (``position``) is
``w * phys_bits + b``.  Bits ``[0, word_bits)`` of a word are data (weight
``s`` of the word at ``[s*bits, (s+1)*bits)``), then the Hamming check bits,
then the overall parity bit when SECDED is on (``parity-zero``: one parity bit after the data).

All unsigned arithmetic is written with explicit ``np.uint64`` casts: numba
turns mixed ``uint64``/``int64`` expressions into floats.
"""

from __future__ import annotations

from sram_models._kernels.bits import U0, U1, _get_bit, _low_mask, _popcount, _set_bit  # noqa: F401
from sram_models._kernels.pack import _pack, _unpack, _unpack_word64  # noqa: F401
from sram_models._kernels.read import (  # noqa: F401
    _get_field,
    _mask_word,
    _parity_encode,
    _read_all,
    _read_stats,
    _read_word,
    _secded_decode_word,
    _secded_encode,
    _set_field,
    _zero_data,
)
from sram_models._kernels.rng import _GOLDEN, _TO_UNIT, FAST, _gap, _next, _uniform  # noqa: F401
from sram_models._kernels.sample import (  # noqa: F401
    _apply_values,
    _cell_class,
    _chip_cells,
    _column_cells,
    _flip_uniform_inplace,
    _geometric_positions,
    _grow,
    _inv_log_q,
    _keep_unprotected,
    _sample_cells,
    _sign_protected,
)
