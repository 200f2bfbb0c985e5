# Makes the harness importable from a checkout and loads the plugin; when the
# package is installed, its pytest11 entry point registers the same module.
import pathlib
import sys

_harness = str(pathlib.Path(__file__).resolve().parent / "harness")
if _harness not in sys.path:
    sys.path.insert(0, _harness)

pytest_plugins = ["listen_conformance.plugin"]
