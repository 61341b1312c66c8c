"""The one exception type for bad user input, shared by every package.

It lives here because ``sram_models`` is the bottom of the import graph
(``cli -> wcatsim -> sram_models``); ``wcatsim.errors`` re-exports it.  The CLI
turns it into a one-line message and exit code 2, so its message must name the
fix ("voltage 0.3 is outside chandramoorthy14's range 0.6..1.0 V: ...").
"""


class InputError(ValueError):
    """Bad input from a user: a value, file or option that can be fixed by them."""
