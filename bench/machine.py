"""The machine a benchmark table was measured on: every table in bench/RESULTS.md names its CPU
(virtual machines often report a generic model name, so the family, model and vector ISAs are
added), core count and date. Shared by compare_peers.py and kernel_efficiency.py."""
import os
import platform
import time
from typing import Dict


def machine_description() -> Dict[str, object]:
    cpu = platform.processor() or platform.machine()
    fields: Dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if ":" in line:
                    key, value = (part.strip() for part in line.split(":", 1))
                    fields.setdefault(key, value)
    except OSError:
        pass
    if "model name" in fields:
        flags = set(fields.get("flags", "").split())
        isas = [name for name, flag in (("AVX-512", "avx512f"), ("AVX-512 VNNI", "avx512_vnni"),
                                        ("AMX", "amx_tile"), ("AVX2", "avx2")) if flag in flags]
        cpu = (f"{fields['model name']}, family {fields.get('cpu family', '?')} model "
               f"{fields.get('model', '?')}" + (f", {' + '.join(isas)}" if isas else ""))
    return {"cpu": cpu, "cores": os.cpu_count(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
