"""Front matter, as static-site tools write it: YAML between ``---`` lines or TOML between
``+++`` lines at the very top of a file. The body after it is returned exactly as stored."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import yaml

_FENCES = {"---": "yaml", "+++": "toml"}


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, except that a date it cannot build (``2024-13-45``) stays the
    text it was, so validation names the key and line instead of the whole load failing."""

    def construct_yaml_timestamp(self, node: yaml.Node) -> Any:  # type: ignore[override]
        try:
            return super().construct_yaml_timestamp(node)  # type: ignore[arg-type]
        except ValueError:
            return self.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


class FrontMatterError(ValueError):
    """Malformed front matter; ``line`` is the 1-based line in the file."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def split_front_matter(text: str) -> tuple[dict[str, Any], str, int]:
    """(metadata, body, 1-based line where the body starts). Text without front matter is
    all body."""
    first, nl, _ = text.partition("\n")
    fence = first.rstrip("\r ")
    if fence not in _FENCES or not nl:
        return {}, text, 1
    closing = re.compile(rf"^{re.escape(fence)}[ \t\r]*$\n?", re.MULTILINE)
    end = closing.search(text, len(first) + 1)
    if end is None:
        raise FrontMatterError(f"front matter opened with {fence!r} on line 1 is never closed", 1)
    raw = text[len(first) + 1 : end.start()]
    body_line = text.count("\n", 0, end.end()) + 1
    data = _parse(raw, _FENCES[fence])
    return data, text[end.end() :], body_line


def _parse(raw: str, kind: str) -> dict[str, Any]:
    try:
        if kind == "toml":
            data: Any = tomllib.loads(raw)
        else:
            data = yaml.load(raw, Loader=_Loader) if raw.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        last = max(0, raw.rstrip("\n").count("\n"))  # a mark at the end of input: last line
        line = min(mark.line, last) + 2 if mark is not None else None
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise FrontMatterError(f"invalid YAML: {problem}", line) from None
    except RecursionError:
        raise FrontMatterError("front matter is nested too deeply", 2) from None
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        raise FrontMatterError(
            f"invalid TOML: {exc}", int(found.group(1)) + 1 if found else None
        ) from None
    if not isinstance(data, dict):
        raise FrontMatterError("front matter must be a mapping of keys to values", 2)
    return {str(key): value for key, value in data.items()}
