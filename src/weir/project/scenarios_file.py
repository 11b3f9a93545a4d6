"""``scenarios.yml``: scenarios declared as configuration, beside those declared in Python with
``weir.scenario(...)``; and the check of every scenario's names against the project.

    daily_delivery:
      description: a day of flights and weather arrives
      triggers:
        - landed: {sources: [flights_landing, weather_landing], together: true}
      steps:
        - ingest: {sources: [flights_landing, weather_landing]}
        - build: {stale: true}
        - diagnose: {}
      reporters:
        - {route: data-team, on: [failed, incident_opened]}
    monthly_retrain:
      triggers:
        - cron: {schedule: "0 6 1 * *", timezone: America/New_York}
      steps:
        - retrain: {model: delay_model}
        - call: {function: "model:announce"}    # module:function of the project's modules

Errors name file:line of the entry at fault."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

from weir.errors import ConfigError, ProjectError
from weir.model.definitions import Location
from weir.model.scenarios import Reporter, Scenario
from weir.model.steps import CONSTRUCTORS as STEPS
from weir.model.steps import Build, Call, Check, Ingest, Rebuild, Retrain, Wait
from weir.model.triggers import CONSTRUCTORS as TRIGGERS
from weir.model.triggers import Landed, Published

SCENARIOS_FILE = "scenarios.yml"
_SCENARIO_KEYS = {"description", "enabled", "triggers", "steps", "reporters"}
# the arguments a constructor takes as a list of names (``landed(*sources)``)
_LISTED = {"landed": "sources", "published": "assets", "incident": "changes", "ingest": "sources", "build": "assets"}


def load_scenarios_file(root: Path, project_name: str) -> list[Scenario]:
    """The scenarios of ``root/scenarios.yml`` (none if absent). Raises ConfigError at file:line."""
    path = root / SCENARIOS_FILE
    if not path.is_file():
        return []
    import yaml  # only when there is a file

    try:
        node = yaml.compose(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"invalid YAML: {getattr(exc, 'problem', exc)}",
                          where=f"{path}:{mark.line + 1}" if mark else str(path)) from None
    if node is None:
        return []
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError("must map scenario names to their triggers, steps and reporters", where=f"{path}:1")
    out = []
    for key_node, body in node.value:
        line = key_node.start_mark.line + 1
        where = f"{path}:{line}"
        if not isinstance(body, yaml.MappingNode):
            raise ConfigError(f"scenario {key_node.value!r} must be a mapping with steps (and triggers, reporters)",
                              where=where)
        fields: dict[str, Any] = {}
        for k, v in body.value:
            at = f"{path}:{k.start_mark.line + 1}"
            if k.value not in _SCENARIO_KEYS:
                raise ConfigError(f"unknown key {k.value!r} of scenario {key_node.value!r} "
                                  f"(known: {', '.join(sorted(_SCENARIO_KEYS))})", where=at)
            if k.value in ("triggers", "steps", "reporters"):
                if not isinstance(v, yaml.SequenceNode):
                    raise ConfigError(f"{k.value} of scenario {key_node.value!r} must be a list", where=at)
                make = {"triggers": _trigger, "steps": _step, "reporters": _reporter}[k.value]
                fields[k.value] = tuple(make(yaml.safe_load(yaml.serialize(item)), f"{path}:{item.start_mark.line + 1}",
                                             project_name) for item in v.value)
            else:
                fields[k.value] = yaml.safe_load(yaml.serialize(v))
        try:
            out.append(Scenario(name=str(key_node.value), location=Location(file=str(path), line=line),
                                **fields))
        except ConfigError as exc:
            raise ConfigError(exc.message, where=exc.where or where) from None
    return out


def _one(data: Any, where: str, what: str, known: dict) -> tuple[str, dict]:
    if isinstance(data, str):
        if data not in known:
            raise ConfigError(f"unknown {what} {data!r} (known: {', '.join(known)})", where=where)
        return data, {}
    if not isinstance(data, dict) or len(data) != 1:
        raise ConfigError(f"each {what} is one mapping like '- {next(iter(known))}: {{...}}'", where=where)
    kind, args = next(iter(data.items()))
    if kind not in known:
        raise ConfigError(f"unknown {what} {kind!r} (known: {', '.join(known)})", where=where)
    if args is None:
        args = {}
    if kind == "cron" and isinstance(args, str):
        args = {"schedule": args}
    if not isinstance(args, dict):
        raise ConfigError(f"{kind}: give its settings as a mapping, e.g. '- {kind}: {{...}}' (got {args!r})", where=where)
    return kind, dict(args)


def _build(kind: str, make: Any, args: dict, where: str) -> Any:
    positional: list = []
    listed = _LISTED.get(kind)
    if listed and listed in args:
        value = args.pop(listed)
        positional = [value] if isinstance(value, str) else list(value or [])
    try:
        inspect.signature(make).bind(*positional, **args)
        return make(*positional, **args, where=where)
    except TypeError as exc:
        raise ConfigError(f"{kind}: {exc}", where=where) from None
    except ConfigError as exc:
        raise ConfigError(exc.message, where=where) from None


def _trigger(data: Any, where: str, project: str) -> Any:
    kind, args = _one(data, where, "trigger", TRIGGERS)
    return _build(kind, TRIGGERS[kind], args, where)


def _step(data: Any, where: str, project: str) -> Any:
    kind, args = _one(data, where, "step", STEPS)
    if kind == "call":
        args["function"] = _function(args.get("function"), project, where)
    return _build(kind, STEPS[kind], args, where)


def _function(ref: Any, project: str, where: str) -> Any:
    """``module:function`` of the project's modules (imported by the loader before this file is read)."""
    if not isinstance(ref, str) or ":" not in ref:
        raise ConfigError(f"call: function {ref!r} must be 'module:function' of the project's modules", where=where)
    module_name, _, attr = ref.partition(":")
    module = sys.modules.get(f"weir_project_{project}.{module_name}")
    if module is None:
        raise ConfigError(f"call: {module_name!r} is not one of the project's modules (weir.toml modules)", where=where)
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ConfigError(f"call: module {module_name!r} has no function {attr!r}", where=where)
    return fn


def _reporter(data: Any, where: str, project: str) -> Reporter:
    if isinstance(data, dict):  # YAML 1.1 reads a bare `on` key as true
        data = {("on" if k is True else k): v for k, v in data.items()}
    if not isinstance(data, dict) or "route" not in data or set(data) - {"route", "on"}:
        raise ConfigError("each reporter is a mapping like '- {route: data-team, on: [failed]}'", where=where)
    on = data.get("on", ["failed"])
    try:
        return Reporter(route=str(data["route"]), on=(on,) if isinstance(on, str) else tuple(on or ()), where=where)
    except ConfigError as exc:
        raise ConfigError(exc.message, where=where) from None


def check_scenario_names(scenario: Scenario, *, assets: set[str], sources: set[str], routes: set[str],
                         models: set[str] | None = None) -> None:
    """Every asset, source and alert route a scenario names exists; ProjectError at the entry otherwise."""
    from weir.project.graph import suggest

    def need(name: str, known: set[str], what: str, where: str) -> None:
        if name not in known:
            hint = suggest(name, sorted(known))
            extra = "" if hint or known else f" (the project has no {what}s)"
            if what == "alert route" and not known:
                extra = " (the project has no routes: add [alerts.routes.NAME] to weir.toml)"
            raise ProjectError(f"scenario {scenario.name!r}: unknown {what} {name!r}{hint}{extra}",
                               where=where or str(scenario.location))

    for t in scenario.triggers:
        if isinstance(t, Landed):
            for s in t.sources:
                need(s, sources, "source", t.where)
        elif isinstance(t, Published):
            for a in t.assets:
                need(a, assets, "asset", t.where)
    for step in scenario.steps:
        if isinstance(step, Ingest):
            for s in step.sources:
                need(s, sources, "source", step.where)
        elif isinstance(step, Build):
            for a in step.assets:
                need(a, assets, "asset", step.where)
        elif isinstance(step, Check | Rebuild):
            need(step.asset, assets, "asset", step.where)
        elif isinstance(step, Retrain):
            need(step.model, assets if models is None else models, "model", step.where)
        elif isinstance(step, Wait):
            need(step.name, assets | sources, "asset or source", step.where)
        elif isinstance(step, Call):
            continue
    for r in scenario.reporters:
        need(r.route, routes, "alert route", r.where)


__all__ = ["SCENARIOS_FILE", "check_scenario_names", "load_scenarios_file"]
