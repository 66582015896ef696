"""``--cfg-options KEY=VALUE`` items parsed into typed values, as MMEngine's DictAction does.

Values:

* ``1`` -> int, ``1e-3`` / ``0.5`` -> float, ``true`` / ``False`` -> bool (any case),
  ``None`` -> None, anything else -> str (``abc``, ``data/coco/``);
* quoted text stays a string: ``'1'`` -> ``'1'``, ``"a b"`` -> ``'a b'``;
* ``[a,b]`` -> list, ``(a,b)`` -> tuple (parentheses always make a tuple), nested freely:
  ``[(train,1),(val,1)]``; ``{k:v,k2:v2}`` -> dict; a bare ``1,2,3`` -> list.

Remember that the shell strips one level of quotes: ``"h='1'"`` reaches us as ``h='1'``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from detcore.config.errors import ConfigError

_CLOSERS = {"[": "]", "(": ")", "{": "}"}


def parse_cfg_options(items: Iterable[str]) -> dict[str, Any]:
    """``['a.b=1', 'c=[1,(2,3)]']`` -> ``{'a.b': 1, 'c': [1, (2, 3)]}`` (later items win)."""
    options: dict[str, Any] = {}
    for item in items:
        raw_key, sep, text = item.partition("=")
        key = raw_key.strip()
        if not sep or not key:
            raise ConfigError(f"--cfg-options item '{item}' is not KEY=VALUE "
                              f"(e.g. model.backbone.depth=50)")
        try:
            options[key] = _ValueParser(text, offset=len(raw_key) + 1).parse()
        except _SyntaxError as err:
            raise ConfigError(f"--cfg-options item '{item}': {err}") from None
    return options


class _SyntaxError(Exception):
    pass


class _ValueParser:
    """Recursive descent over one value; ``pos`` is the index of the next character.
    Positions in errors count from the start of the whole item (``offset`` is where the
    value starts in it)."""

    def __init__(self, text: str, offset: int = 0):
        self.text = text
        self.pos = 0
        self.offset = offset

    def _error(self, message: str, pos: int) -> _SyntaxError:
        return _SyntaxError(f"{message} at position {pos + self.offset}")

    def parse(self) -> Any:
        items, had_comma = self._sequence(closer=None)
        if had_comma:
            return items
        return items[0] if items else ""

    def _sequence(self, closer: str | None) -> tuple[list, bool]:
        """Comma-separated values up to ``closer`` (or the end); also says whether a comma
        was seen."""
        items, had_comma = [], False
        while True:
            self._skip_spaces()
            if self._at_end(closer):
                return items, had_comma
            items.append(self._value(stops="," + (closer or "")))
            self._skip_spaces()
            if self._at_end(closer):
                return items, had_comma
            self._expect(",")
            had_comma = True

    def _value(self, stops: str) -> Any:
        self._skip_spaces()
        char = self._peek()
        if char in _CLOSERS:
            self.pos += 1
            if char == "{":
                return self._mapping()
            items, _ = self._sequence(_CLOSERS[char])
            self.pos += 1
            return tuple(items) if char == "(" else items
        if char in ("'", '"'):
            return self._quoted()
        return _scalar(self._bare(stops))

    def _mapping(self) -> dict:
        mapping = {}
        while True:
            self._skip_spaces()
            if self._at_end("}"):
                self.pos += 1
                return mapping
            key_start = self.pos
            key = self._value(stops=":,}")
            if isinstance(key, (list, dict)):
                raise self._error("a dict key cannot be a list or dict", key_start)
            self._skip_spaces()
            self._expect(":")
            mapping[key] = self._value(stops=",}")
            self._skip_spaces()
            if self._at_end("}"):
                continue
            self._expect(",")

    def _quoted(self) -> str:
        quote, start = self.text[self.pos], self.pos
        self.pos += 1
        while self.pos < len(self.text) and self.text[self.pos] != quote:
            self.pos += 2 if self.text[self.pos] == "\\" else 1
        if self.pos >= len(self.text):
            raise self._error(f"unclosed quote {quote}", start)
        self.pos += 1
        return self.text[start + 1:self.pos - 1].replace("\\" + quote, quote)

    def _bare(self, stops: str) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in stops:
            if self.text[self.pos] in "[](){}'\"":
                raise self._error(f"unexpected {self.text[self.pos]!r}", self.pos)
            self.pos += 1
        token = self.text[start:self.pos].strip()
        if not token:
            raise self._error("missing value", start)
        return token

    def _at_end(self, closer: str | None) -> bool:
        if closer is None:
            return self.pos >= len(self.text)
        if self.pos >= len(self.text):
            opener = next(o for o, c in _CLOSERS.items() if c == closer)
            raise _SyntaxError(f"unclosed '{opener}'")
        return self.text[self.pos] == closer

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            found = repr(self._peek()) if self._peek() else "the end"
            raise self._error(f"expected '{char}' but found {found}", self.pos)
        self.pos += 1

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1


def _scalar(token: str) -> Any:
    for convert in (int, float):
        try:
            return convert(token)
        except ValueError:
            pass
    if token.lower() in ("true", "false"):
        return token.lower() == "true"
    if token == "None":
        return None
    return token
