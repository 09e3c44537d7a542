"""How the generated YAML files are written: key order kept, no anchors, a comment header."""

from collections.abc import Mapping
from typing import Any

import yaml


class _BlockDumper(yaml.SafeDumper):
    """Block style throughout, and a list shared by several stages written out in full:
    DVC reads anchors, people less so."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


class _InlineListDumper(_BlockDumper):
    """Block style, except lists of plain values on one line (`hidden: [256, 128]`)."""


def _represent_list(dumper: _InlineListDumper, data: list[Any]) -> yaml.SequenceNode:
    is_plain = not any(isinstance(item, (dict, list)) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=is_plain)


_InlineListDumper.add_representer(list, _represent_list)


def render_yaml(document: Mapping[str, Any], header: str, *, inline_lists: bool) -> str:
    """`document` as YAML after `header` as comment lines.

    `inline_lists` suits config values; without it every list item gets its own line,
    as DVC's documentation writes a stage's deps.
    """
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    body = yaml.dump(
        dict(document),
        Dumper=_InlineListDumper if inline_lists else _BlockDumper,
        sort_keys=False,
        default_flow_style=False,
        width=100,
        allow_unicode=True,
    )
    return f"{comment}\n{body}"
