"""A parser for the protocol-buffer text format, as far as configuration files use it.

`parse(text)` returns a `Message`: field name -> list of values in file order (a repeated field
has several), each value a number, a string, a bool, an enum identifier (str) or a nested
`Message`. There is no schema here: the caller checks field names and types. Supported: `#`
comments, `name: value`, `name { ... }`, `name: { ... }`, `name < ... >`, list values
`name: [a, b]`, adjacent string literals concatenated, C escapes in strings, separators `,`/`;`.
Errors are ConversionErrors with the line and column.
"""
from __future__ import annotations

import re
from typing import Dict, List, Tuple, Union

from .errors import ConversionError

Value = Union[int, float, str, bool, "Message"]

_TOKEN = re.compile(r"""
    (?P<space>[ \t\r\n]+|\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)[fF]?
                |[-+]?(?:inf|infinity|nan)\b)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<punct>[{}<>:\[\],;])
""", re.VERBOSE | re.IGNORECASE)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "a": "\a",
            "b": "\b", "f": "\f", "v": "\v", "?": "?"}


class Message(dict):
    """Field name -> list of values. `get(name)` gives the last value (proto2 semantics for a
    singular field set twice) or the default."""

    def last(self, name: str, default=None):
        values = dict.get(self, name)
        return values[-1] if values else default

    def all(self, name: str) -> list:
        return list(dict.get(self, name, []))


class _Tokens:
    def __init__(self, text: str, what: str):
        self.what = what
        self.items: List[Tuple[str, str, int, int]] = []
        pos, line, line_start = 0, 1, 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if not match:
                self.fail(f"unexpected character {text[pos]!r}", line, pos - line_start + 1)
            kind = match.lastgroup
            if kind != "space":
                self.items.append((kind, match.group(), line, pos - line_start + 1))
            for k in range(pos, match.end()):
                if text[k] == "\n":
                    line, line_start = line + 1, k + 1
            pos = match.end()
        self.pos = 0

    def fail(self, message: str, line: int = 0, column: int = 0):
        if not line:
            if self.pos < len(self.items):
                _, _, line, column = self.items[self.pos]
            else:
                message += " (at the end of the file)"
        where = f"{self.what}:{line}:{column}" if line else self.what
        raise ConversionError(f"{where}: {message}")

    def peek(self) -> Tuple[str, str]:
        if self.pos < len(self.items):
            return self.items[self.pos][:2]
        return ("end", "")

    def take(self) -> Tuple[str, str]:
        token = self.peek()
        if token[0] == "end":
            self.fail("unexpected end of file")
        self.pos += 1
        return token

    def expect(self, text: str) -> None:
        kind, value = self.peek()
        if value != text or kind != "punct":
            self.fail(f"expected '{text}', found {value!r}" if value else f"expected '{text}'")
        self.pos += 1


def _unescape(literal: str, tokens: _Tokens) -> str:
    body, out, k = literal[1:-1], [], 0
    while k < len(body):
        c = body[k]
        if c != "\\":
            out.append(c)
            k += 1
            continue
        k += 1
        e = body[k]
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            k += 1
        elif e in "xX":
            digits = re.match(r"[0-9a-fA-F]{1,2}", body[k + 1:])
            if not digits:
                tokens.fail("bad \\x escape in string")
            out.append(chr(int(digits.group(), 16)))
            k += 1 + len(digits.group())
        elif e in "01234567":
            digits = re.match(r"[0-7]{1,3}", body[k:]).group()
            out.append(chr(int(digits, 8)))
            k += len(digits)
        else:
            tokens.fail(f"unknown escape '\\{e}' in string")
    return "".join(out)


def _scalar(tokens: _Tokens) -> Value:
    kind, text = tokens.take()
    if kind == "string":
        value = _unescape(text, tokens)
        while tokens.peek()[0] == "string":  # "a" "b" is "ab"
            value += _unescape(tokens.take()[1], tokens)
        return value
    if kind == "number":
        body = text.rstrip("fF") if not text.lower().startswith(("0x", "-0x", "+0x")) else text
        try:
            if re.fullmatch(r"[-+]?(0[xX][0-9a-fA-F]+|\d+)", body):
                return int(body, 0) if not re.fullmatch(r"[-+]?0\d+", body) else int(body, 8)
            return float(body)
        except ValueError:
            tokens.pos -= 1
            tokens.fail(f"bad number {text!r}")
    if kind == "ident":
        if text in ("true", "True", "t"):
            return True
        if text in ("false", "False", "f"):
            return False
        return text  # an enum value
    tokens.pos -= 1
    tokens.fail(f"expected a value, found {text!r}")
    raise AssertionError  # unreachable


def _message(tokens: _Tokens, close: str) -> Message:
    message = Message()
    while True:
        kind, text = tokens.peek()
        if close and kind == "punct" and text == close:
            tokens.pos += 1
            return message
        if kind == "end":
            if close:
                tokens.fail(f"missing '{close}'")
            return message
        if kind != "ident":
            tokens.fail(f"expected a field name, found {text!r}")
        tokens.pos += 1
        name = text
        colon = tokens.peek() == ("punct", ":")
        if colon:
            tokens.pos += 1
        kind, text = tokens.peek()
        values: List[Value] = []
        if kind == "punct" and text in "{<":
            tokens.pos += 1
            values.append(_message(tokens, "}" if text == "{" else ">"))
        elif not colon:
            tokens.fail(f"expected ':' or '{{' after field '{name}'")
        elif kind == "punct" and text == "[":
            tokens.pos += 1
            while tokens.peek() != ("punct", "]"):
                if tokens.peek()[1] in ("{", "<"):
                    opener = tokens.take()[1]
                    values.append(_message(tokens, "}" if opener == "{" else ">"))
                else:
                    values.append(_scalar(tokens))
                if tokens.peek() == ("punct", ","):
                    tokens.pos += 1
                elif tokens.peek() != ("punct", "]"):
                    tokens.fail("expected ',' or ']' in a list value")
            tokens.pos += 1
        else:
            values.append(_scalar(tokens))
        message.setdefault(name, []).extend(values)
        if tokens.peek() in (("punct", ","), ("punct", ";")):
            tokens.pos += 1


def parse(text: str, what: str = "text proto") -> Message:
    """Parses a whole text-format message; `what` names it in error messages."""
    return _message(_Tokens(text, what), "")


def parse_file(path: str) -> Message:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as error:
        raise ConversionError(f"cannot read config '{path}': {error.strerror}") from None
    except UnicodeDecodeError:
        raise ConversionError(f"config '{path}' is not UTF-8 text") from None
    return parse(text, f"config '{path}'")


def as_dict(message: Message) -> Dict[str, list]:
    """A plain nested dict/list copy (for printing and tests)."""
    return {k: [as_dict(v) if isinstance(v, Message) else v for v in vs] for k, vs in message.items()}
