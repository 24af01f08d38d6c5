"""Reading a diagram as the browser draws it: Graphviz's own `dot` lays the DOT out, and these helpers read the
SVG it drew (its boxes and arrows) or the DOT's numbered step arrows (tests/test_diagram.py, tests/contract.py)."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
from conftest import running_in_ci

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = [
    'a" -> b [label="x"]; {',
    "<b>html</b>",
    "<script>alert(1)</script>",
    "back\\slash \\N \\l \\G",
    "'; DROP TABLE kv; --",
    "}} subgraph cluster_x { evil }",
    "ключ 😀 עברית e\u0301",
    "line\nbreak\ttab",
]
NUMBERED = re.compile(r'\bx?label="(?:[AB])?(\d+)\. ')


def layout(source: str) -> ET.Element:
    dot = shutil.which("dot")
    if dot is None:
        if running_in_ci():
            pytest.fail("Graphviz's dot is missing in CI: .ci/run must install Debian's graphviz package")
        pytest.skip("Graphviz's dot is not installed")
    svg = subprocess.run([dot, "-Tsvg"], input=source, capture_output=True, text=True, check=True).stdout
    return ET.fromstring(svg)


def shape_of(svg: ET.Element) -> tuple[list[str], list[str]]:
    """The node names and the edges (as "A->B") that Graphviz actually drew."""
    nodes, edges = [], []
    for group in svg.iter(f"{SVG}g"):
        kind = group.get("class", "").split()
        title = group.findtext(f"{SVG}title")
        if "node" in kind:
            nodes.append(title)
        elif "edge" in kind:
            edges.append(re.sub(r":\w+", "", title))   # "Cache:s->Cache:s": a self-loop drawn below its box
    return sorted(nodes), sorted(edges)


def step_arrows(source: str) -> list[tuple[int, list[str]]]:
    """(number, classes) of every numbered step arrow in the DOT, in order (labels may be xlabels)."""
    found = []
    for line in source.splitlines():
        number = NUMBERED.search(line)
        classes = re.search(r'\bclass=(?:"([^"]*)"|(\w+))', line)
        if number and classes:
            found.append((int(number.group(1)), (classes.group(1) or classes.group(2)).split()))
    return found
