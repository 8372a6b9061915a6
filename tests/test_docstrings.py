"""numpydoc's validation over the public API, the names the API reference documents.

Every public function, class and public method has a docstring whose Parameters section
names exactly the signature's parameters, each with a type and a description, and a
Returns (or Yields) section where it returns something. The list of names is the API
reference's (``docs/api/index.rst``), so a name added there is validated here.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest
from numpydoc import validate as numpydoc_validate

API_PAGE = Path(__file__).resolve().parents[1] / "docs" / "api" / "index.rst"
# GL08: no docstring; PR01: a parameter is not documented; PR02: a documented parameter is
# not in the signature; PR03: they are in another order; PR04: no type; PR07: a parameter
# has no description; PR10: "x: int" without the space numpydoc needs; RT01: no Returns
# section; RT03: a Returns entry has no description; YD01: no Yields section for a generator.
CHECKS = {"GL08", "PR01", "PR02", "PR03", "PR04", "PR07", "PR10", "RT01", "RT03", "YD01"}


def documented_names() -> list[str]:
    """Fully qualified names listed in the API reference's autosummary tables."""
    names, module = [], None
    for line in API_PAGE.read_text().splitlines():
        if match := re.match(r"\.\. currentmodule:: (\S+)", line):
            module = match.group(1)
        elif module and (match := re.match(r"   ([A-Za-z_][\w.]*)$", line)):
            names.append(f"{module}.{match.group(1)}")
    return names


def _resolve(name: str):
    parts = name.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attr in parts[split:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(name)


def public_objects() -> list[str]:
    """The documented names, and for classes each public method the class defines."""
    found = []
    for name in documented_names():
        obj = _resolve(name)
        found.append(name)
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            for attr, value in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if isinstance(value, (staticmethod, classmethod)):
                    value = value.__func__
                if inspect.isfunction(value) or isinstance(value, property):
                    found.append(f"{name}.{attr}")
    return found


def test_the_api_page_lists_every_public_name():
    import glass_box_umap

    documented = documented_names()
    assert len(documented) > 40
    for name in glass_box_umap.__all__:
        if name != "__version__":
            assert f"glass_box_umap.{name}" in documented, name


def _errors(name: str) -> list[str]:
    obj = _resolve(name)
    if isinstance(obj, property):
        return []  # numpydoc validates a property as a function; it has no Parameters
    result = numpydoc_validate.validate(name)
    errors = [f"{code}: {message}" for code, message in result["errors"] if code in CHECKS]
    if inspect.isclass(obj):
        # A class documents its constructor's parameters (numpydoc reads __init__'s signature).
        errors = [e for e in errors if not e.startswith(("RT01", "RT03"))]
    return errors


@pytest.mark.parametrize("name", public_objects())
def test_public_docstring_follows_numpydoc(name):
    errors = _errors(name)
    assert errors == []
