"""Exports for slides: one frame per step, a GIF whose frames all have one size, an HTML file that loads
nothing and keeps learners' text as text, and steps with the keyboard in a real (offline) Chromium.

The GIF and HTML tests need Graphviz's `dot` (Debian's graphviz package, which .ci/run installs): without
it they are skipped locally and fail under CI=true, as the rest of the suite does with what it needs.
"""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import pytest
from browser_support import launch_chromium, require_browser, skip_or_fail
from PIL import Image

from strategies import export as export_module
from strategies.diagram import build_diagram
from strategies.export import (
    ExportError,
    ExportUnavailable,
    engine_available,
    export_gif,
    export_html,
    frames,
    scenario_frames,
)
from strategies.scenario import run_scenario
from strategies.scenarios import SCENARIOS
from strategies.scene import Scene

HOSTILE_KEY = "<script>alert(1)</script>"
HOSTILE_VALUE = '<img src=x onerror=alert(2)> "quoted" & --> id="x'


class Elements(HTMLParser):
    """Every start tag of a page with its attributes, as a browser's parser reads them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))

    handle_startendtag = handle_starttag

    @classmethod
    def of(cls, page: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
        parser = cls()
        parser.feed(page)
        parser.close()
        return parser.found


def scenario_run(lab_for, slug: str):
    scenario = SCENARIOS[slug]
    return run_scenario(scenario, lab_for(scenario.pattern))


def require_engine() -> None:
    if not engine_available():
        skip_or_fail("Graphviz's dot is missing: install Debian's graphviz package (apt-get install graphviz)")


def hostile_request(lab_for):
    """A write and a read of a key and value made to break out of HTML, SVG and DOT."""
    lab = lab_for("cache-aside")
    write = lab.write(HOSTILE_KEY, HOSTILE_VALUE)
    read = lab.read(HOSTILE_KEY)
    return lab, [Scene.of(write), Scene.of(read)]


# ---- frames (no engine needed) ------------------------------------------------------------------------------
def test_one_frame_per_step_across_scenes_with_its_caption_and_narration(lab_for):
    run = scenario_run(lab_for, "stale-set-race")
    shown = frames(run.lab.topology, run.scenes)
    steps = run.steps
    assert len(shown) == len(steps) > 1
    assert [frame.counter for frame in shown] == [f"step {k} of {len(steps)}" for k in range(1, len(steps) + 1)]
    assert [frame.narration for frame in shown] == [step.explanation for step in steps]
    expected = [(scene, index) for scene in run.scenes for index in range(len(scene.steps))]
    for frame, (scene, index) in zip(shown, expected, strict=True):
        assert frame.caption == scene.caption_at(index)
        assert frame.dot == build_diagram(run.lab.topology, scene.steps, index + 1).source
    assert all(frame.caption for frame in shown)          # every step of a scenario is captioned
    assert len({frame.dot for frame in shown}) == len(shown)


def test_a_scenario_on_a_private_lab_gives_the_same_frames(lab_for):
    run = scenario_run(lab_for, "stampede-leases")
    assert scenario_frames("stampede-leases") == frames(run.lab.topology, run.scenes)
    assert len(scenario_frames("stampede-leases")) == len(run.steps) == 45


def test_a_scenario_that_runs_on_two_pages_exports_the_page_asked_for():
    aside, through = scenario_frames("noeviction-oom", "cache-aside"), scenario_frames("noeviction-oom", "read-through")
    assert aside == scenario_frames("noeviction-oom") and len(aside) == len(through)
    assert not any("Loader" in frame.dot for frame in aside) and any("Loader ->" in frame.dot for frame in through)
    with pytest.raises(ExportError, match="write-behind"):
        scenario_frames("noeviction-oom", "write-behind")


def test_a_request_exports_as_its_own_frames(lab_for):
    lab = lab_for("cache-aside")
    trace = lab.read("user:1")
    shown = frames(lab.topology, trace)
    assert [frame.counter for frame in shown] == [f"step {k} of {len(trace.steps)}" for k in
                                                  range(1, len(trace.steps) + 1)]
    assert all(frame.caption is None for frame in shown)


def test_without_dot_an_export_says_what_to_install(lab_for, monkeypatch):
    lab = lab_for("cache-aside")
    shown = frames(lab.topology, lab.read("user:1"))
    monkeypatch.setattr(export_module.shutil, "which", lambda name: None)
    assert not engine_available()
    for make in (lambda: export_gif(shown), lambda: export_html(shown, "title")):
        with pytest.raises(ExportUnavailable, match="apt-get install graphviz"):
            make()


# ---- the GIF ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("slug", ["stale-set-race", "cache-down-fallback"])
def test_gif_has_one_frame_per_step_all_of_one_size(lab_for, slug):
    require_engine()
    run = scenario_run(lab_for, slug)
    data = export_gif(frames(run.lab.topology, run.scenes))
    gif = Image.open(io.BytesIO(data))
    assert gif.format == "GIF"
    assert gif.n_frames == len(run.steps)
    sizes, durations, pictures = set(), [], []
    for number in range(gif.n_frames):
        gif.seek(number)
        sizes.add(gif.size)
        durations.append(gif.info.get("duration"))
        pictures.append(gif.convert("RGB").tobytes())
    assert len(sizes) == 1
    width, height = sizes.pop()
    assert width > 600 and height > 300
    assert set(durations) == {export_module.FRAME_MS}
    assert len(set(pictures)) == len(pictures)            # every step looks different
    gif.seek(0)
    assert gif.convert("RGB").getpixel((2, 2)) == (255, 255, 255)    # white paper, not a quantized grey


def test_gif_of_a_hostile_request(lab_for):
    require_engine()
    lab, scenes = hostile_request(lab_for)
    gif = Image.open(io.BytesIO(export_gif(frames(lab.topology, scenes))))
    assert gif.n_frames == sum(len(scene.steps) for scene in scenes)


# ---- the HTML -----------------------------------------------------------------------------------------------
def test_html_has_every_step_loads_nothing_and_keeps_hostile_text_as_text(lab_for):
    require_engine()
    lab, scenes = hostile_request(lab_for)
    shown = frames(lab.topology, scenes)
    page = export_html(shown, f"Export of {HOSTILE_KEY}")
    n = len(shown)
    assert page.count('<section class="frame"') == n
    assert page.count("<svg") == n
    for k in range(1, n + 1):
        assert f">step {k} of {n}<" in page
    # Nothing from the network (or anywhere else): no URL at all, no src/href, one script (the page's own).
    assert "http://" not in page and "https://" not in page and "//" not in re.sub(r"<script>.*?</script>", "",
                                                                                   page, flags=re.DOTALL)
    elements = Elements.of(page)
    assert not [(tag, name) for tag, attrs in elements for name, _ in attrs
                if name in {"src", "href", "xlink:href", "srcset", "action", "data", "poster"}]
    tags = {tag for tag, _ in elements}
    assert not tags & {"img", "iframe", "link", "object", "embed", "image", "use", "foreignobject", "video", "audio"}
    assert [tag for tag, _ in elements].count("script") == 1
    assert not re.search(r"@import|url\(", page)
    # Learners' text only escaped: in the captions and narration, and in the SVG's labels.
    assert "<script>alert" not in page and "<img" not in page and "onerror=alert(2)>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page               # the narration, whole
    assert page.count("&lt;script&gt;alert(1)&lt;/sc") > n               # labels in every diagram, too
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert f"<title>Export of {HOSTILE_KEY.replace('<', '&lt;').replace('>', '&gt;')}</title>" in page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))                                      # frames' SVG ids kept apart


def test_html_of_a_scenario_captions_each_step(lab_for):
    require_engine()
    run = scenario_run(lab_for, "stale-set-race")
    shown = frames(run.lab.topology, run.scenes)
    page = export_html(shown, run.scenario.title)
    assert page.count('<p class="narration">') == len(shown)
    assert page.count('<p class="caption">') == len(shown)
    assert "http" not in page


# The drawing (dot's top group) lies within the <svg> box as laid out: nothing cut off on any side.
DRAWING_INSIDE_JS = """(svg) => {
    const box = svg.getBoundingClientRect(), drawn = svg.querySelector('g.graph').getBoundingClientRect();
    return box.width > 100 && drawn.left >= box.left - 1 && drawn.top >= box.top - 1
        && drawn.right <= box.right + 1 && drawn.bottom <= box.bottom + 1;
}"""


# ---- in a browser, offline ----------------------------------------------------------------------------------
@pytest.mark.browser
def test_html_steps_with_the_keyboard_offline_in_chromium(lab_for, tmp_path):
    require_browser()
    require_engine()
    from playwright.sync_api import sync_playwright

    run = scenario_run(lab_for, "stale-set-race")
    shown = frames(run.lab.topology, run.scenes)
    n = len(shown)
    path = tmp_path / "stale-set-race.html"
    path.write_text(export_html(shown, run.scenario.title), encoding="utf-8")

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.set_default_timeout(10_000)
            elsewhere: list[str] = []

            def only_the_file(route):
                if route.request.url.startswith("file://"):
                    route.continue_()
                else:
                    elsewhere.append(route.request.url)
                    route.abort()

            context.route("**/*", only_the_file)
            context.set_offline(True)
            page = context.new_page()
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(path.as_uri(), wait_until="load")

            shown_frame = page.locator("section.frame:not([hidden])")

            def state() -> tuple[str, str]:
                assert shown_frame.count() == 1
                assert shown_frame.locator("svg").evaluate(DRAWING_INSIDE_JS), "the diagram is cropped"
                return shown_frame.locator(".counter").inner_text(), shown_frame.locator("svg").inner_html()

            counter, first_svg = state()
            assert counter == f"step 1 of {n}"
            assert page.locator("#prev").is_disabled()
            page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowRight")
            counter, third_svg = state()
            assert counter == f"step 3 of {n}"
            assert third_svg != first_svg
            assert shown_frame.locator("svg").is_visible()
            page.keyboard.press("ArrowLeft")
            counter, second_svg = state()
            assert counter == f"step 2 of {n}"
            assert second_svg not in (first_svg, third_svg)
            page.keyboard.press("PageDown")
            assert state()[0] == f"step 3 of {n}"
            page.keyboard.press("PageUp")
            page.locator("#prev").click()
            assert state() == (f"step 1 of {n}", first_svg)
            page.keyboard.press("End")
            assert state()[0] == f"step {n} of {n}"
            assert page.locator("#next").is_disabled()
            page.keyboard.press("ArrowRight")                      # the last step stays the last
            assert state()[0] == f"step {n} of {n}"
            page.locator("#prev").click()
            assert state()[0] == f"step {n - 1} of {n}"
            assert errors == []
            assert elsewhere == []
            assert all(url.startswith("file://") for url in requested), requested
            context.close()
        finally:
            browser.close()
