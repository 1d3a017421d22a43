"""Chisels: sysdig's chisel workflow with Python chisels, the single-host set built in, and sysdig's
own Lua chisels run unmodified through lupa (lua_bridge).

Entry points for the CLI: ``registry.list_chisels()`` (-cl), ``registry.describe_chisel(name)`` (-i),
``registry.take_chisel_args(name, rest, is_filter)`` (how many argv words follow -c NAME),
``registry.load_chisel(name, args)`` and ``runner.ChiselRunner`` (the per-event driver).
"""
