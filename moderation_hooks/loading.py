"""Turn resolved hook definitions into runnable ``HookSpec``s.

``use`` names what to run:
- a built-in type (``crisis``, ``flood``, ``rules``, ``links``, ``pii``, ``new_member``);
- the name of an entry point in the group ``chatserver.moderation_hooks``;
- a dotted path ``package.module:attribute`` (or ``package.module.attribute``).

The object found is turned into a hook as follows: if it has ``from_settings``, that is
called with the settings mapping; a class is called with the settings as keyword arguments;
any other callable *is* the hook (and then takes no settings).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any, cast

from moderation_hooks.config import ResolvedHook
from moderation_hooks.crisis import CrisisLanguage
from moderation_hooks.flood import FloodControl
from moderation_hooks.links import LinkPolicy
from moderation_hooks.newmember import NewMemberHold
from moderation_hooks.pii import PiiRedaction
from moderation_hooks.pipeline import Hook, HookSpec
from moderation_hooks.rules import BlocklistRules

ENTRY_POINT_GROUP = "chatserver.moderation_hooks"

BUILTINS: dict[str, Callable[[Mapping[str, Any]], Hook]] = {
    "crisis": CrisisLanguage.from_settings,
    "flood": FloodControl.from_settings,
    "rules": BlocklistRules.from_settings,
    "links": LinkPolicy.from_settings,
    "pii": PiiRedaction.from_settings,
    "new_member": NewMemberHold.from_settings,
}


class HookLoadError(ValueError):
    """A hook could not be found or built; the message says which and why."""


def find_object(use: str) -> Any:
    if use in BUILTINS:
        return BUILTINS[use]
    if ":" in use or "." in use:
        module_name, sep, attr = use.partition(":")
        if not sep:
            module_name, _, attr = use.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise HookLoadError(f"hook {use!r}: cannot import {module_name!r}: {exc}") from None
        obj: Any = module
        for part in attr.split("."):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                raise HookLoadError(f"hook {use!r}: {module_name!r} has no {attr!r}") from None
        return obj
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == use:
            try:
                return ep.load()
            except Exception as exc:  # a broken plugin must name itself, not crash startup obscurely
                raise HookLoadError(f"hook {use!r}: entry point failed to load: {exc}") from exc
    raise HookLoadError(
        f"hook {use!r}: not a built-in ({', '.join(BUILTINS)}), not an entry point in "
        f"{ENTRY_POINT_GROUP!r}, and not a dotted path"
    )


def make_hook(use: str, settings: Mapping[str, Any]) -> Hook:
    obj: Any = find_object(use)
    if use in BUILTINS:
        factory: Callable[[Mapping[str, Any]], Hook] = obj
        try:
            return factory(settings)
        except ValueError as exc:
            raise HookLoadError(str(exc)) from None
    try:
        if hasattr(obj, "from_settings"):
            return cast(Hook, obj.from_settings(settings))
        if inspect.isclass(obj):
            return cast(Hook, obj(**settings))
    except (TypeError, ValueError) as exc:
        raise HookLoadError(f"hook {use!r}: bad settings: {exc}") from None
    if callable(obj):
        if settings:
            raise HookLoadError(
                f"hook {use!r} is a function and takes no settings (got {', '.join(settings)}); "
                "make it a class or give it from_settings"
            )
        return cast(Hook, obj)
    raise HookLoadError(f"hook {use!r} is not callable")


def build_spec(hook: ResolvedHook) -> HookSpec:
    fn = make_hook(hook.use, hook.settings)
    builtin = hook.use in BUILTINS
    call = type(fn).__dict__.get("__call__") if not inspect.isfunction(fn) else None
    is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)
    in_thread = hook.thread if hook.thread is not None else (not builtin and not is_async)
    return HookSpec(hook.name, fn, hook.timeout, hook.on_failure, in_thread=bool(in_thread and not is_async))


def build_specs(hooks: tuple[ResolvedHook, ...]) -> list[HookSpec]:
    return [build_spec(h) for h in hooks]
