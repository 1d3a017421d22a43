"""The optional compiled fast path of the tracer (tracer/_fastpath.c); sdu runs without it.

optional=True: where no C compiler or Python headers exist, the build skips the extension and the
tracer stays pure Python (tracer/fastpath.py checks for it).
"""
from setuptools import Extension, setup

_FLAGS = ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
setup(ext_modules=[Extension("tracer._fastpath", ["tracer/_fastpath.c"], optional=True, extra_compile_args=_FLAGS),
                   Extension("sysdig_user._fastline", ["sysdig_user/_fastline.c"], optional=True,
                             extra_compile_args=_FLAGS)])
