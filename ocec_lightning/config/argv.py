"""Prepare the overrides a user typed for Hydra's parser: every entry point (the Hydra
CLIs, `compose_config`, the sweepers) passes them through `quote_overrides` first.

Hydra 1.3's override grammar rejects unquoted non-ASCII values (`aug=激进` raises a
LexerNoViableAltException) while `aug='激进'` works. Users should be able to type the
Chinese preset names as they are, so values are quoted; comma sweeps element by element
(`preset=保守,平衡` -> `preset='保守','平衡'`). Options renamed in this release
(`RENAMED_OPTIONS`) are mapped to their new names here, with a one-line warning, so the
old names keep working without a second YAML file under each old name.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

# The deprecation table: config options renamed in this release, (group, old name) -> new
# name. The old names still compose, with a FutureWarning, until the next release, when
# this table goes.
RENAMED_OPTIONS: dict[tuple[str, str], str] = {
    ("preset", "ocec_seed000"): "ocec_batch4096",
    ("experiment", "seg_seed002"): "microsegformer_300ep",
}
_warned: set[tuple[str, str]] = set()  # each old name warns once per process

# key=value where key is a plain override key, optionally prefixed with +, ++ or ~.
_OVERRIDE = re.compile(r"^(?P<key>[+~]{0,2}[A-Za-z_][\w.@/\-]*)=(?P<value>.*)$", re.S)


def _special(text: str) -> bool:
    # Non-ASCII characters and '=' (checkpoint names like epoch=3.ckpt) break the grammar.
    return any(ord(ch) > 127 or ch == "=" for ch in text)


def _needs_quotes(token: str) -> bool:
    return _special(token) and not (len(token) >= 2 and token[0] == token[-1] and token[0] in "'\"")


def _quote_value(value: str) -> str:
    # Leave grammar functions (choice(...), range(...), interval(...)) and lists alone
    # unless they carry bare non-ASCII items; those are quoted inside the brackets.
    if not _special(value):
        return value
    if re.match(r"^\w+\(.*\)$", value, re.S) or (value.startswith("[") and value.endswith("]")):
        head, inner, tail = _split_brackets(value)
        return head + ",".join(_quote_arg(i) for i in _split_top_level(inner)) + tail
    return ",".join(_quote_item(item) for item in _split_top_level(value))


def _quote_arg(arg: str) -> str:
    # An argument of a grammar function or a list item: `name=value` keyword arguments
    # (glob(*,exclude=[保守,seg_*])) and lists are quoted item by item.
    keyword = re.match(r"^(\s*[A-Za-z_][A-Za-z0-9_]*\s*=)(.*)$", arg, re.S)
    if keyword:
        return keyword[1] + _quote_arg(keyword[2])
    stripped = arg.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        return "[" + ",".join(_quote_arg(i) for i in _split_top_level(stripped[1:-1])) + "]"
    return _quote_item(arg)


def _quote_item(item: str) -> str:
    stripped = item.strip()
    return f"'{stripped}'" if _needs_quotes(stripped) else item


def _split_brackets(value: str) -> tuple[str, str, str]:
    open_at = value.index("(") + 1 if value.endswith(")") else 1
    return value[:open_at], value[open_at:-1], value[-1]


def _split_top_level(value: str) -> list[str]:
    """Split on commas that are not inside quotes or brackets."""
    parts, depth, quote, current = [], 0, "", []
    for ch in value:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def _renamed(key: str, value: str) -> str:
    """`value` with the old option names of `key`'s group replaced by their new names
    (also inside sweeps: `preset=<old name>,balanced`), each warning once."""
    group = key.lstrip("+~").split("@")[0]
    for (old_group, old), new in RENAMED_OPTIONS.items():
        if group != old_group:
            continue
        value, count = re.subn(rf"(?<![\w./-]){re.escape(old)}(?![\w./-])", new, value)
        if count and (group, old) not in _warned:
            _warned.add((group, old))
            # warn_explicit with a file that has no source line: one line on stderr.
            warnings.warn_explicit(
                f"{group}={old} is now {group}={new}; the old name goes in the next release",
                FutureWarning,
                filename="<overrides>",
                lineno=0,
            )
    return value


def quote_overrides(args: Sequence[str]) -> list[str]:
    """Return `args` ready for Hydra's parser: renamed options under their new names
    (`RENAMED_OPTIONS`), non-ASCII override values quoted.

    Flags (`-m`, `--cfg job`) and already-quoted values pass through unchanged.
    """
    out = []
    for arg in args:
        match = _OVERRIDE.match(arg)
        if match and not arg.startswith("-"):
            value = _renamed(match["key"], match["value"])
            out.append(f"{match['key']}={_quote_value(value)}")
        else:
            out.append(arg)
    return out
