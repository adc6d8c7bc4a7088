"""YAML read in one flat pass with the line of every mapping key and list item.

:class:`MarkedLoader` builds the document from the parser's events (libyaml's when PyYAML
has it), recording the line (``start_mark.line + 1``) of every key and list item by its
path, e.g. ``("boards", "rpi4-1", "arch") -> 14``. It keeps no node tree and never
recurses, so time and memory grow in proportion to the document; it refuses aliases and
nesting deeper than :data:`MAX_DEPTH`. :mod:`kenning.boards.yamllines` turns its errors and
pydantic's into ``file:line`` problems.
"""

from __future__ import annotations

from typing import Any

import yaml

#: a path into the document: mapping keys (str) and list indexes (int)
Loc = tuple[str | int, ...]

#: libyaml's parser when PyYAML was built with it (ten times faster), else PyYAML's own
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: how deep mappings and lists may nest; a deeper document is refused as it is read
MAX_DEPTH = 100


class AliasRefused(yaml.MarkedYAMLError):
    """An alias (``*name``) in the document: refused, so that no document can expand."""


class TooDeep(yaml.MarkedYAMLError):
    """Mappings and lists nested deeper than :data:`MAX_DEPTH`."""


_MAP_TAGS = (None, "!", "tag:yaml.org,2002:map")
_SEQ_TAGS = (None, "!", "tag:yaml.org,2002:seq")
_NO_KEY = object()
_STR = "tag:yaml.org,2002:str"


class _Open:
    """A mapping or list being filled: its path, and a mapping's key waiting for its value."""

    __slots__ = ("container", "key", "key_line", "path", "start")

    def __init__(self, container: dict[Any, Any] | list[Any], path: Loc, start: Any) -> None:
        self.container, self.path, self.start = container, path, start
        self.key: Any = _NO_KEY
        self.key_line = 0


class MarkedLoader(_BaseLoader):
    """A SafeLoader that also returns the line of every mapping key and list item.

    The document is built from the parser's events in one flat pass: no node tree is kept
    (time and memory in proportion to the document) and nothing recurses, however deep.
    Aliases are refused as they are read: a few hundred bytes of nested aliases (a
    "billion laughs" document) would otherwise expand into gigabytes when the values are
    walked and validated; an inventory or scenario writes its values out. Nesting deeper
    than :data:`MAX_DEPTH` is refused too: what validates the values recurses per level.
    """

    def load_with_lines(self) -> tuple[Any, dict[Loc, int], list[tuple[Loc, int, int]]]:
        """The document, ``{path: line}``, and ``(path, first line, line)`` of duplicate keys.

        Raises
        ------
        yaml.MarkedYAMLError
            For invalid YAML, an alias (:class:`AliasRefused`), nesting too deep
            (:class:`TooDeep`), a mapping or list as a key, or more than one document.
        """
        lines: dict[Loc, int] = {}
        duplicates: list[tuple[Loc, int, int]] = []
        root: list[Any] = []
        stack: list[_Open] = []
        self.get_event()  # the stream's start
        while not self.check_event(yaml.StreamEndEvent):
            event = self.get_event()
            if isinstance(event, yaml.DocumentStartEvent) and root:
                raise _error("expected a single document", "but found another", event)
            if isinstance(event, yaml.AliasEvent):
                text = f"aliases are not supported (*{event.anchor}); write the value out"
                raise AliasRefused(None, None, text, event.start_mark)
            if isinstance(event, yaml.ScalarEvent):
                _place(self._scalar(event), event, stack, root, lines, duplicates)
            elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                mapping = isinstance(event, yaml.MappingStartEvent)
                if event.tag not in (_MAP_TAGS if mapping else _SEQ_TAGS):
                    raise _error(None, f"tag {event.tag} is not supported here", event)
                if len(stack) >= MAX_DEPTH:
                    text = f"mappings and lists nest more than {MAX_DEPTH} levels deep; flatten it"
                    raise TooDeep(None, None, text, event.start_mark)
                container: dict[Any, Any] | list[Any] = {} if mapping else []
                path = _place(container, event, stack, root, lines, duplicates)
                stack.append(_Open(container, path, event.start_mark))
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                stack.pop()
        if not root:
            return None, {(): 1}, []
        return root[0], lines, duplicates

    def _scalar(self, event: yaml.ScalarEvent) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag == _STR:
            return event.value  # most values: nothing to construct
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        value = self.construct_object(node, deep=True)
        self.constructed_objects.pop(node, None)  # each node is read once: keep none
        return value


def _error(context: str | None, problem: str, event: yaml.Event) -> yaml.MarkedYAMLError:
    return yaml.constructor.ConstructorError(context, None, problem, event.start_mark)


def _place(
    value: Any,
    event: yaml.Event,
    stack: list[_Open],
    root: list[Any],
    lines: dict[Loc, int],
    duplicates: list[tuple[Loc, int, int]],
) -> Loc:
    """Put ``value`` where the document is; its path (a mapping's key: its parent's)."""
    line = event.start_mark.line + 1
    if not stack:
        root.append(value)
        lines[()] = line
        return ()
    top = stack[-1]
    if isinstance(top.container, list):
        path = (*top.path, len(top.container))
        lines[path] = line
        top.container.append(value)
        return path
    if top.key is _NO_KEY:
        if not isinstance(event, yaml.ScalarEvent):
            raise _error("in a mapping", "a key is a mapping or a list; write a plain key", event)
        top.key, top.key_line = value, line
        return top.path
    path = (*top.path, str(top.key))
    if path in lines:
        duplicates.append((path, lines[path], top.key_line))
    lines[path] = top.key_line
    try:
        top.container[top.key] = value
    except TypeError as exc:
        raise _error("in a mapping", f"the key {top.key!r} cannot be a key: {exc}", event) from exc
    top.key = _NO_KEY
    return path
