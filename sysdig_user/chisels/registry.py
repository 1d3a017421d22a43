"""Finding, listing, describing and loading chisels; the CLI's entry points for -c, -cl and -i.

Lookup order for ``load_chisel(name)``: the built-in Python chisels, then user Python chisels
(``NAME.py`` in ./chisels, ~/.chisels and the ``:``-separated $SDU_CHISELS_DIR), then Lua chisels via
lupa (``NAME.lua`` in those directories, $SYSDIG_CHISEL_DIR and /usr/share/sysdig/chisels).
``SDU_CHISEL_ENGINE=lua`` puts the Lua chisels first (to run sysdig's own scripts unmodified).

Listings follow sysdig's userspace/sysdig/utils: sorted by category then name, the short description
wrapped at 79 columns with a 16-column indent, hidden chisels and csysdig views left out.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sysdig_user.chisels.api import Chisel, ChiselInfo
from sysdig_user.chisels.runner import ChiselError, new_context
from sysdig_user.errors import SduError

if TYPE_CHECKING:  # (pathlib is imported where a user or Lua chisel is looked for: a run of a built-in
    from pathlib import Path  # chisel skips its ~10 ms import)

SYSTEM_LUA_DIR = "/usr/share/sysdig/chisels"
DESCRIPTION_TEXT_START = 16
CONSOLE_LINE_LEN = 79

_BUILTIN_MODULES = (
    "table_generator", "tops", "iochisels", "spy", "state", "perf", "http", "extra", "containers",
)
_builtins: dict[str, type[Chisel]] | None = None
_module_chisels: dict[str, dict[str, type[Chisel]]] = {}


def _chisels_of(mod: str) -> dict[str, type[Chisel]]:
    """name -> class of the Python chisels of builtin module ``mod`` (imported once)."""
    found = _module_chisels.get(mod)
    if found is None:
        module = importlib.import_module(f"sysdig_user.chisels.builtin.{mod}")
        found = _module_chisels[mod] = {
            obj.info.name: obj for obj in vars(module).values()
            if isinstance(obj, type) and issubclass(obj, Chisel) and obj is not Chisel and "info" in vars(obj)}
    return found


def builtin_chisels() -> dict[str, type[Chisel]]:
    """name -> class of every Python chisel under sysdig_user.chisels.builtin."""
    global _builtins
    if _builtins is None:
        found: dict[str, type[Chisel]] = {}
        for mod in _BUILTIN_MODULES:
            found.update(_chisels_of(mod))
        _builtins = found
    return _builtins


def builtin_chisel(name: str) -> type[Chisel] | None:
    """The built-in Python chisel called ``name``: builtin_chisels()'s, importing the modules in order only
    until one has it (no name is two classes: tests/chisels/test_registry.py), so that a run of
    topfiles_bytes does not import the Lua bridge's and the other chisels' modules."""
    if _builtins is not None:
        return _builtins.get(name)
    for mod in _BUILTIN_MODULES:
        cls = _chisels_of(mod).get(name)
        if cls is not None:
            return cls
    return None


# ------------------------------------------------------------------------------------ directories
def user_dirs() -> list[Path]:
    from pathlib import Path

    dirs = [Path("chisels"), Path.home() / ".chisels"]
    env = os.environ.get("SDU_CHISELS_DIR", "")
    dirs += [Path(p) for p in env.split(":") if p]
    return dirs


def lua_dirs() -> list[Path]:
    from pathlib import Path

    dirs = user_dirs()
    env = os.environ.get("SYSDIG_CHISEL_DIR", "")
    dirs += [Path(p) for p in env.split(";") if p]
    dirs.append(Path(SYSTEM_LUA_DIR))
    return dirs


def _prefer_lua() -> bool:
    return os.environ.get("SDU_CHISEL_ENGINE", "").lower() == "lua"


def _user_python_chisel(name: str) -> type[Chisel] | None:
    for d in user_dirs():
        path = d / f"{name}.py"
        if path.is_file():
            return _load_python_file(path)
    return None


def _load_python_file(path: Path) -> type[Chisel] | None:
    """A user chisel file: any module defining a Chisel subclass with an ``info``."""
    spec = importlib.util.spec_from_file_location(f"sdu_user_chisel_{path.stem}", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ChiselError(f"Failed to load chisel {path.stem}: {exc}") from exc
    for obj in vars(module).values():
        if isinstance(obj, type) and issubclass(obj, Chisel) and "info" in vars(obj):
            return obj
    return None


def _lua_path(name: str) -> Path | None:
    for d in lua_dirs():
        for cand in (d / f"{name}.lua", d / name):
            if cand.is_file():
                return cand
    return None


def lua_available() -> bool:
    from sysdig_user.chisels import lua_bridge
    return lua_bridge.available()


# ------------------------------------------------------------------------------------ listing
def all_chisel_infos() -> list[ChiselInfo]:
    """Every listable chisel, first occurrence of a name winning (built-ins, user, Lua)."""
    seen: dict[str, ChiselInfo] = {}
    sources: list[Callable[[], list[ChiselInfo]]] = [_python_infos, _user_python_infos, _lua_infos]
    if _prefer_lua():
        sources = [_lua_infos, _python_infos, _user_python_infos]
    for src in sources:
        for info in src():
            if info.name not in seen:
                seen[info.name] = info
    return [i for i in seen.values() if not i.hidden]


def _python_infos() -> list[ChiselInfo]:
    return [cls.info for cls in builtin_chisels().values()]


def _user_python_infos() -> list[ChiselInfo]:
    out = []
    for d in user_dirs():
        if d.is_dir():
            for path in sorted(d.glob("*.py")):
                try:
                    cls = _load_python_file(path)
                except SduError:
                    continue
                if cls is not None:
                    out.append(cls.info)
    return out


def _lua_infos() -> list[ChiselInfo]:
    from sysdig_user.chisels import lua_bridge
    if not lua_bridge.available():
        return []
    out: list[ChiselInfo] = []
    names: set[str] = set()
    for d in lua_dirs():
        if not d.is_dir():
            continue
        for path in sorted(d.glob("*.lua")):
            if path.stem in names:
                continue
            info = lua_bridge.read_info(path)
            if info is not None:
                names.add(path.stem)
                out.append(info)
    return out


def _format_list(infos: Sequence[ChiselInfo], verbose: bool) -> str:
    out: list[str] = []
    last_category: str | None = None
    for info in sorted(infos, key=lambda i: (i.category, i.name)):
        if info.category != last_category:
            full = "Category: " + info.category
            out.append("\n" + full + "\n" + "-" * len(full) + "\n")
            last_category = info.category
        out.append(info.name)
        namelen = len(info.name)
        if namelen >= DESCRIPTION_TEXT_START:
            out.append("\n")
            namelen = 0
        out.append(" " * (DESCRIPTION_TEXT_START - namelen))
        width = CONSOLE_LINE_LEN - DESCRIPTION_TEXT_START
        desc = info.short_description
        for i, ch in enumerate(desc):
            if i and i % width == 0:
                out.append("\n" + " " * DESCRIPTION_TEXT_START)
            out.append(ch)
        out.append("\n")
    if verbose:
        out.append("\nUse the -i flag to get detailed information about a specific chisel\n")
    return "".join(out)


def list_chisels() -> str:
    """The text of ``sdu -cl``."""
    return _format_list(all_chisel_infos(), True)


def find_info(name: str) -> ChiselInfo | None:
    for info in all_chisel_infos():
        if info.name == name:
            return info
    return None


def describe_chisel(name: str) -> str:
    """The text of ``sdu -i NAME``; SduError when there is no such (listable) chisel."""
    info = find_info(name)
    if info is None:
        raise ChiselError(f"chisel {name} not found - use -cl to list them.")
    out = [_format_list([info], False), "\n"]
    for i, ch in enumerate(info.description):
        if i and i % CONSOLE_LINE_LEN == 0:
            out.append("\n")
        out.append(ch)
    out.append("\n")
    astr = "Args:\n"
    if info.args:
        for a in info.args:
            astr += f"[{a.type}] {a.name} - {a.description}\n"
    else:
        astr += "(None)"
    width = CONSOLE_LINE_LEN - DESCRIPTION_TEXT_START
    linepos = 0
    for ch in astr:
        if ch == "\n":
            linepos = -1
        elif linepos and linepos % width == 0:
            out.append("\n" + " " * DESCRIPTION_TEXT_START)
        out.append(ch)
        linepos += 1
    out.append("\n")
    return "".join(out)


# ------------------------------------------------------------------------------------ loading
def split_chisel_args(args: str) -> list[str]:
    """sinsp_chisel::set_args tokenizer: split on spaces, '...' or `...` groups one value."""
    args = args.strip()
    vals: list[str] = []
    if not args:
        return vals
    token_begin = 0
    inquotes = False
    quote_correction = 0
    j = 0
    for j, c in enumerate(args):
        if c == " " and not inquotes:
            vals.append(args[token_begin:j - quote_correction])
            token_begin = j + 1
            quote_correction = 0
        elif c in "'`":
            if inquotes:
                quote_correction = 1
                inquotes = False
            else:
                token_begin += 1
                inquotes = True
    if inquotes:
        raise ChiselError("corrupted parameters for chisel")
    vals.append(args[token_begin:len(args) - quote_correction])
    return vals


def _chisel_class(name: str, prefer_lua: bool) -> type[Chisel] | Path | None:
    def python() -> type[Chisel] | None:
        cls = builtin_chisel(name)
        return cls if cls is not None else _user_python_chisel(name)

    def lua() -> Path | None:
        path = _lua_path(name)
        if path is None or not lua_available():
            return None
        return path

    order: list[Callable[[], type[Chisel] | Path | None]] = [python, lua]
    if prefer_lua or _prefer_lua():
        order = [lua, python]
    for get in order:
        found = get()
        if found is not None:
            return found
    return None


def load_chisel(name: str, args: str | Sequence[str] | None = None, *,
                prefer_lua: bool = False) -> Chisel:
    """Load chisel ``name`` and pass it its arguments (one sysdig-style string, or a list of
    values); the returned chisel is ready for a ChiselRunner (on_init not yet called)."""
    name = name.strip()
    found = _chisel_class(name, prefer_lua)
    if found is None:
        raise ChiselError(f"can't open file {name}")
    chisel: Chisel
    if not isinstance(found, type):  # (a Lua chisel's path)
        from sysdig_user.chisels import lua_bridge
        chisel = lua_bridge.LuaChisel(found, new_context(name))
    else:
        chisel = found(new_context(name))
    if args is None:
        values: list[str] = []
    elif isinstance(args, str):
        try:
            values = split_chisel_args(args)
        except ChiselError as exc:
            raise ChiselError(f"{exc} {name}") from exc
    else:
        values = [str(a) for a in args]
    set_args(chisel, name, values)
    return chisel


def set_args(chisel: Chisel, name: str, values: Sequence[str]) -> None:
    """Validate the count as sysdig does, then call on_set_arg for each value."""
    info = chisel.info
    nreq, nopt = info.n_required_args, info.n_optional_args
    if len(values) < nreq:
        raise ChiselError(f"wrong number of parameters for chisel {name}, {nreq} required, "
                          f"{len(values)} given")
    if len(values) > nreq + nopt:
        raise ChiselError(f"too many parameters for chisel {name}, {nreq} required, {nopt} optional, "
                          f"{len(values)} given")
    for arg, value in zip(info.args, values):
        ok = chisel.on_set_arg(arg.name, value)
        if ok is not True:
            if ok is False:
                raise ChiselError(f"set_arg() for chisel {name} failed.")
            raise ChiselError(f"{name} chisel error: wrong set_arg() return value.")


def chisel_info_for_args(name: str) -> ChiselInfo:
    """The metadata the CLI needs to decide how many argv words follow ``-c NAME``."""
    found = _chisel_class(name.strip(), False)
    if found is None:
        raise ChiselError(f"can't open file {name}")
    if not isinstance(found, type):  # (a Lua chisel's path)
        from sysdig_user.chisels import lua_bridge
        info = lua_bridge.read_info(found, include_hidden=True)
        if info is None:
            raise ChiselError(f"Failed to load chisel {name}: args table missing")
        return info
    return found.info


def take_chisel_args(name: str, rest: Sequence[str], is_valid_filter: Callable[[str], bool]
                     ) -> str | None:
    """sysdig's parse_chisel_args: whether the word after ``-c NAME`` (``rest[0]``) is the chisel's
    argument string. Returns it (the CLI then skips that word) or None.

    * a chisel with required args always takes the next word (error if there is none);
    * with only optional args, a next word not starting with '-' is taken when the chisel's only
      arg is a filter, or when the remaining words do not form a valid filter.
    """
    info = chisel_info_for_args(name)
    nargs = len(info.args)
    if nargs == 0:
        return None
    if not rest:
        if info.n_required_args:
            raise ChiselError(f"missing arguments for chisel {name}")
        return None
    word = rest[0]
    if info.n_required_args:
        return word
    if word.startswith("-"):
        return None
    if nargs == 1 and info.args[0].type == "filter":
        return word
    if is_valid_filter(" ".join(rest)):
        return None
    return word
