"""The contract's page: what the page draws from a pattern's requests is true of them. Every step points at
the line of the pattern's code that performed it, the diagram keeps its shape whatever a learner types and
draws every step on a lane of its figure, and "Predict each step" asks about what really happened."""

from __future__ import annotations

import inspect
import linecache
import re
from pathlib import Path

from contract import Promises
from diagram_support import HOSTILE, layout, shape_of, step_arrows

from strategies import Database
from strategies.diagram import build_diagram
from strategies.quiz import arrow_text, pattern_arrows, question_for


def source_line(step) -> str:
    return linecache.getline(step.code.filename, step.code.line)


def performing_call(step) -> tuple[str, ...]:
    """What the pattern's line that performed `step` must call (any one of these)."""
    action, source = step.action, step.source
    if source == "Database" and action == "REPLY":         # the answer comes back inside the same helper call
        return ("db_select", "db_upsert", ".reply(")
    return {
        "GET": ("cache_get", "early.get"),                # with early refresh on: + δ and expiry, one call
        "SET": ("cache_set", "cache_call", "early.store"),  # write-behind's enqueue script is a cache_call
        "EVICT": ('"EVICT"',),                             # a full cache: the eviction part records its own DEL
        "DEL": ("cache_delete", "cache_call"),             # with leases: DEL key lease:key, or a lease released
        "SELECT": ("db_select",),
        "UPSERT": ("db_upsert", '"UPSERT"'),               # a flush records its batch UPSERT itself
        "HGET": ("cache_call",),
        "LEASE": ("cache_call",),
        "WAIT": ("t.step(", ".reply("),
        "REFRESH": (".reply(",),                           # refresh-ahead hands a refresh to the background
        "RECOMPUTE": (".reply(",),                         # XFetch, in read-through: the cache to its loader
        "XRANGE": ("cache_call",),
        "XDEL": ("cache_call",),
        "WRITE": ("hand_over",),
        "REPLY": (".reply(",),
        "XADD": (".reply(",),
        "XLEN": (".reply(",),
        "EXPIRE": ('"EXPIRE"',),
        "CRASH": ('"CRASH"',),
        "RESYNC": ('"RESYNC"',),
    }[action]


def steps_with_state(lab, trace):
    for step in trace.steps:
        state = lab.state_after(step)
        found = state.db.get(step.key) if step.key is not None else None
        yield step, (found.value if found is not None else None)


class PageContract(Promises):
    """The code line, the diagram and the quiz of every pattern's steps."""

    # ---- the code line of every step -----------------------------------------------------------------------
    def traces_of_every_kind(self, make_lab, **options):
        lab = make_lab(self.pattern, **{**options, "ttl_seconds": 5})
        traces = [lab.read("user:1"), lab.read("user:1"), lab.read("ghost"), lab.write("user:1", "new"),
                  lab.write("fresh", "row")]
        traces += [action.perform(lab) for action in lab.page_actions()]     # the buttons it adds (Flush now)
        if self.busy(1):
            for name, value in self.busy(1).items():
                setattr(lab, name, value)
            traces.append(lab.write("user:2", "flushed in the background"))
        traces.append(lab.read("user:2"))
        traces += lab.advance_time(100)
        lab.read("user:3")
        traces.append(lab.crash_cache())
        lab.db.down = True
        traces += [lab.read("user:2"), lab.write("user:2", "refused")]
        lab.db.down = False
        lab.cache_down = True
        traces += [lab.read("user:2"), lab.write("user:2", "down")]
        lab.cache_down = False
        return lab, traces

    def test_every_step_points_at_the_line_of_pattern_code_that_performed_it(self, make_lab, config):
        lab, traces = self.traces_of_every_kind(make_lab, **self.configs[config])
        kinds = {trace.operation for trace in traces}
        assert kinds >= {"read", "write", "expiry", "crash"} | ({"flush"} if self.defers_writes else set())
        for trace in traces:
            for step in trace.steps:
                where = f"{trace.label} step {step.number} {step.action}"
                assert step.code is not None, where
                line = source_line(step)
                assert any(call in line for call in performing_call(step)), f"{where}: {line.strip()!r}"
                filename = Path(step.code.filename).name
                if trace.operation in ("read", "write", "flush"):
                    # the pattern's own module (a read may be read-through's), or a part composed into it
                    allowed = {Path(inspect.getfile(type(lab))).name,
                               *(Path(inspect.getfile(type(part))).name for part in lab.parts)}
                    allowed |= {"read_through.py"} if trace.operation == "read" else set()
                    assert filename in allowed, f"{where}: recorded in {filename}"
                    owners = {cls.__name__ for cls in type(lab).__mro__} | {type(part).__name__ for part in lab.parts}
                    assert step.code.function.split(".")[0] in owners
                else:                                    # events the engine records: expiries, crashes, resyncs
                    assert filename in {"clock.py", "faults.py", "reconcile.py"} | \
                        {Path(inspect.getfile(type(part))).name for part in lab.parts}, where

    # ---- the diagram ----------------------------------------------------------------------------------------
    def test_hostile_keys_and_values_never_change_the_shape(self, make_lab, namespace):
        def fresh(suffix):
            return make_lab(self.pattern, db=Database(":memory:"), namespace=f"{namespace}{suffix}:", **self.busy(1))

        benign = fresh("benign")            # every write's trace then carries the pattern's background work
        benign_write = benign.write("plain", "value")
        benign_read = benign.read("plain")
        expected = shape_of(layout(build_diagram(benign.topology, benign_read, 2).source))
        expected_write = shape_of(layout(build_diagram(benign.topology, benign_write, 2).source))
        assert expected[0] == sorted(a.name for a in benign.topology.actors)
        assert len(expected_write[1]) >= len(benign_write.steps)

        for number, text in enumerate(HOSTILE):
            lab = fresh(f"hostile{number}")
            write = lab.write(text, text)
            read = lab.read(text)
            assert read.value == text   # the text itself survives the round trip
            assert [s.action for s in write.steps] == [s.action for s in benign_write.steps]
            assert shape_of(layout(build_diagram(lab.topology, write, 2).source)) == expected_write
            assert shape_of(layout(build_diagram(lab.topology, read, 2).source)) == expected

    def test_every_step_is_one_numbered_arrow_and_exactly_one_is_active(self, make_lab):
        lab = make_lab(self.pattern)
        trace = lab.read("user:1")
        count = len(trace.steps)
        for current in range(1, count + 1):
            source = build_diagram(lab.topology, trace, current).source
            found = step_arrows(source)
            assert [number for number, _ in found] == list(range(1, count + 1))
            phases = [classes[0] for _, classes in found]
            assert phases == ["done"] * (current - 1) + ["active"] + ["todo"] * (count - current)
            assert len(re.findall(r"\bactive\b", source)) == 1
        finished = build_diagram(lab.topology, trace, None).source
        assert {classes[0] for _, classes in step_arrows(finished)} == {"done"}
        assert not re.search(r"\b(active|todo)\b", finished)

    def test_every_step_of_a_request_runs_along_a_lane_of_its_figure(self, make_lab):
        """The figure reserves room for labels on its lanes only: a request's step between two actors that share
        no lane (or an actor the figure lacks) would move the boxes."""
        lab = make_lab(self.pattern, **self.busy(2))
        actors = {actor.name for actor in lab.topology.actors}
        lanes = {frozenset(lane) for lane in lab.topology.lanes}
        traces = [lab.read("user:1"), lab.read("user:1"), lab.read("ghost"), lab.write("user:1", "a"),
                  lab.write("user:2", "b"), lab.read("user:2")]
        lab.crash_cache()
        traces.append(lab.read("user:2"))
        lab.db.down = True
        traces += [lab.read("user:3"), lab.write("user:3", "c"), lab.write("user:3", "d")]
        lab.cache_down = True
        traces += [lab.read("user:1"), lab.write("user:1", "e")]
        lab.cache_down = lab.db.down = False
        traces += [action.perform(lab) for action in lab.page_actions()]     # the buttons it adds (Flush now)
        for trace in traces:
            for step in trace.steps:
                assert {step.source, step.target} <= actors, f"{trace.label}: {step.source} → {step.target}"
                assert frozenset((step.source, step.target)) in lanes, \
                    f"{trace.label} step {step.number}: {step.source} → {step.target} is on no lane of {self.pattern}"

    # ---- predict each step ----------------------------------------------------------------------------------
    def test_every_question_has_the_real_step_as_its_answer(self, make_lab):
        lab = make_lab(self.pattern)
        traces = [lab.read("user:1"), lab.read("user:1"), lab.write("user:1", "Zed"), lab.read("user:1")]
        drawn = {arrow_text(*arrow) for arrow in pattern_arrows(self.pattern)}
        kinds = set()
        for trace in traces:
            for step, db_value in steps_with_state(lab, trace):
                question = question_for(self.pattern, step, trace, db_value, list(trace.steps))
                kinds.add(question.kind)
                assert len(set(question.choices)) == len(question.choices) >= 2
                right = question.choices[question.answer]
                if question.kind == "arrow":
                    assert right == arrow_text(step.source, step.target, step.action)
                    assert set(question.choices) <= drawn | {arrow_text(s.source, s.target, s.action)
                                                             for s in trace.steps}
                    assert len(question.choices) == 4
                elif question.kind == "hit":
                    assert right.lower().startswith(step.outcome)
                assert question.is_right(right) and not any(question.is_right(c) for c in question.choices
                                                            if c != right)
        assert kinds == {"arrow", "hit", "db"}

    def test_the_database_question_follows_the_patterns_write(self, make_lab):
        lab = make_lab(self.pattern)
        trace = lab.write("user:1", "Zed")
        step, db_value = list(steps_with_state(lab, trace))[-1]
        question = question_for(self.pattern, step, trace, db_value)
        assert question.kind == "db"
        assert question.choices[question.answer].startswith("No" if self.defers_writes else "Yes")
