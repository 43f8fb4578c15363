"""``python -m optkern``: where the C++ package is, and what this build is.

    python -m optkern --cmakedir   # the folder for -Doptkern_DIR=... (find_package(optkern))
    python -m optkern --includedir # the public C++ headers
    python -m optkern --info       # build_info() as JSON: version, SIMD levels, CUDA
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m optkern", description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--cmakedir", action="store_true",
                       help="print the folder holding optkernConfig.cmake")
    group.add_argument("--includedir", action="store_true", help="print the C++ include folder")
    group.add_argument("--version", action="store_true", help="print optkern's version")
    group.add_argument("--info", action="store_true", help="print build_info() as JSON")
    args = parser.parse_args(argv)

    import optkern

    if args.cmakedir:
        print(optkern.cmake_dir())
    elif args.includedir:
        print(optkern.include_dir())
    elif args.version:
        print(optkern.__version__)
    else:
        print(json.dumps(optkern.build_info(), indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
