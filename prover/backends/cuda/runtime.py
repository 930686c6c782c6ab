"""Which CUDA runtime numba will use here: a real device, the CUDA simulator, or neither.

numba reads ``NUMBA_ENABLE_CUDASIM`` once, when ``numba.cuda`` is first imported, and binds
``numba.cuda`` to the simulator or to the driver for the life of the process. Nothing in this
module imports ``numba.cuda`` unless asked (``device_present`` on a machine that has an
NVIDIA driver), so importing the backends stays cheap where there is no GPU.
"""

from __future__ import annotations

import ctypes.util
import glob
import os
import sys

#: What ``get_backend("cuda")`` says when it cannot run.
UNAVAILABLE = (
    "backend 'cuda' needs an NVIDIA GPU with its driver, or numba's CUDA simulator: set "
    "NUMBA_ENABLE_CUDASIM=1 in the environment before starting Python to run its kernels "
    "on the CPU (slow; small sizes only)"
)


def simulator_enabled() -> bool:
    """Whether numba.cuda is (or, once imported, will be) the CUDA simulator."""
    cuda = sys.modules.get("numba.cuda")
    if cuda is not None:
        return getattr(cuda.jit, "__module__", "").startswith("numba.cuda.simulator")
    return _config_sim()


def _config_sim() -> bool:
    if "numba.core.config" in sys.modules:
        from numba.core import config

        return bool(config.ENABLE_CUDASIM)
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def driver_installed() -> bool:
    """A cheap look for an NVIDIA driver (device nodes or libcuda), importing nothing."""
    return bool(glob.glob("/dev/nvidia[0-9]*")) or ctypes.util.find_library("cuda") is not None


def device_present() -> bool:
    """A real CUDA device numba can use (never the simulator)."""
    if simulator_enabled() or not driver_installed():
        return False
    from numba import cuda

    try:
        return bool(cuda.is_available()) and len(cuda.gpus) > 0
    except Exception:  # noqa: BLE001 (a broken driver install: no device, for us)
        return False


def available() -> bool:
    """Whether the cuda backend can run: under the simulator or on a real device."""
    return simulator_enabled() or device_present()


def enable_simulator() -> None:
    """Make numba.cuda the simulator; must run before numba.cuda is first imported."""
    if "numba.cuda" in sys.modules and not simulator_enabled():
        raise RuntimeError("numba.cuda is already imported with the real driver; the CUDA "
                           "simulator must be enabled before that (NUMBA_ENABLE_CUDASIM=1)")
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"  # numba's compiler re-reads its config from it
    if "numba.core.config" in sys.modules:
        from numba.core import config

        config.ENABLE_CUDASIM = 1


def prefer_simulator() -> bool:
    """Enable the simulator unless a choice was made (NUMBA_ENABLE_CUDASIM set) or an NVIDIA
    device node exists; for test sessions, before numba.cuda is imported. Returns whether
    the simulator is on."""
    undecided = "NUMBA_ENABLE_CUDASIM" not in os.environ and "numba.cuda" not in sys.modules
    if undecided and not glob.glob("/dev/nvidia[0-9]*"):
        enable_simulator()
    return simulator_enabled()
