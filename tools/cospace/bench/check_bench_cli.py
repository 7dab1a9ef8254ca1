"""Checks of `cospace bench` and `cospace plot` run by ctest (sources.cmake).

  check_bench_cli.py json DIR TOOL...        bench --quick --json: one JSON document, every figure a number
  check_bench_cli.py svg DIR TOOL...         plot --svg DIR/cospace-plot-test.svg --quick, rendered to PNG
  check_bench_cli.py unwritable DIR TOOL...  plot --svg into a missing directory: exit code 2, one line on stderr

TOOL... is the command that runs `cospace` (in a cross build: the emulator, then the program).

Exit code 77 means skipped (ctest SKIP_RETURN_CODE), with the reason printed.
"""
import json
import numbers
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

SKIP = 77


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_rows(doc, key, unit, must_measure):
    rows = doc.get(key)
    if not isinstance(rows, list) or not rows:
        fail("no rows in '%s'" % key)
    names = set()
    for row in rows:
        names.add(row.get("name"))
        if row.get("available") is True:
            if not is_number(row.get(unit)) or row[unit] <= 0:
                fail("%s/%s: %s is not a positive number: %r" % (key, row.get("name"), unit, row.get(unit)))
        elif not isinstance(row.get("reason"), str) or not row["reason"]:
            fail("%s/%s: not available without a reason" % (key, row.get("name")))
    for name in must_measure:
        row = next((r for r in rows if r.get("name") == name), None)
        if row is None or row.get("available") is not True:
            fail("%s/%s was not measured: %r" % (key, name, row))


def check_json(tool):
    run = subprocess.run(tool + ["bench", "--quick", "--json"], capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        fail("exit code %d: %s" % (run.returncode, run.stderr[-2000:]))
    doc = json.loads(run.stdout)  # one document, nothing else on stdout
    for key in ("command", "date_utc", "machine", "timing_method", "alternatives", "switch", "resume_yield",
                "create_run_destroy", "sliced_switch_vs_depth", "memory", "ratios", "elapsed_seconds"):
        if key not in doc:
            fail("missing field '%s'" % key)
    for key in ("vcpus", "memory_gib"):
        if not is_number(doc["machine"].get(key)):
            fail("machine.%s is not a number" % key)
    # sjlj needs its stack below the caller's, which a mapping is not under qemu-user: a reason then.
    check_rows(doc, "switch", "ns_per_switch", ["cospace_asm", "cospace_ucontext"])
    check_rows(doc, "resume_yield", "ns_per_round_trip", ["cospace_region", "cospace_fixed"])
    check_rows(doc, "create_run_destroy", "ns_per_fiber", ["cospace_region", "cospace_fixed"])
    check_rows(doc, "sliced_switch_vs_depth", "ns_per_round_trip", [])
    for row in doc["sliced_switch_vs_depth"]:
        if not is_number(row.get("depth_bytes")):
            fail("sliced_switch_vs_depth/%s: no depth_bytes" % row.get("name"))
    for name, alt in doc["alternatives"].items():
        if alt.get("available") is not True and not alt.get("reason"):
            fail("alternative %s missing without a reason" % name)
    memory = doc["memory"]["rows"]
    measured = 0
    for row in memory:
        if row.get("available") is True:
            measured += 1
            for field in ("fibers", "fibers_made", "kib_per_fiber", "rss_kib_per_fiber", "pte_kib_per_fiber",
                          "resident_mib", "vmas"):
                if not is_number(row.get(field)):
                    fail("memory %s at %s: %s is not a number" % (row.get("kind"), row.get("fibers"), field))
        elif not row.get("reason"):
            fail("memory %s at %s: not measured without a reason" % (row.get("kind"), row.get("fibers")))
    region = [r for r in memory if r.get("kind") == "cospace_region" and r.get("available") is True]
    # At least the smallest count; a sanitizer build may skip the larger ones for want of memory.
    if not region or any(r["fibers_made"] != r["fibers"] or r["kib_per_fiber"] <= 0 for r in region):
        fail("cospace_region memory rows incomplete: %r" % region)
    for ratio in doc["ratios"]:
        if "ratio" in ratio:
            if not is_number(ratio["ratio"]) or ratio["ratio"] <= 0:
                fail("ratio %r is not a positive number" % ratio)
        elif not ratio.get("reason"):
            fail("ratio without a value or a reason: %r" % ratio)
    print("ok: %d memory rows measured, %d ratios, %.1f s" % (measured, len(doc["ratios"]), doc["elapsed_seconds"]))


def check_svg(directory, tool):
    renderer = shutil.which("rsvg-convert")
    if renderer is None:
        print("SKIP: rsvg-convert not found (Debian: librsvg2-bin)")
        sys.exit(SKIP)
    svg = os.path.join(directory, "cospace-plot-test.svg")
    png = os.path.join(directory, "cospace-plot-test.png")
    for path in (svg, png):
        if os.path.exists(path):
            os.remove(path)
    run = subprocess.run(tool + ["plot", "--svg", svg, "--quick"], capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        fail("plot: exit code %d: %s" % (run.returncode, run.stderr[-2000:]))
    root = ET.parse(svg).getroot()
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    for expected in ("Resident memory", "cospace region stacks", "1k", "MiB"):
        if expected not in texts:
            fail("the chart has no text '%s'" % expected)
    if not list(root.iter("{http://www.w3.org/2000/svg}polyline")):
        fail("the chart has no line")
    render = subprocess.run([renderer, svg, "-o", png], capture_output=True, text=True, timeout=120)
    if render.returncode != 0:
        fail("rsvg-convert: " + render.stderr)
    with open(png, "rb") as f:
        head = f.read(8)
    size = os.path.getsize(png)
    if head != b"\x89PNG\r\n\x1a\n" or size == 0:
        fail("rsvg-convert wrote no PNG (%d bytes)" % size)
    print("ok: %s rendered to %s, %d bytes" % (svg, png, size))


def check_unwritable(tool):
    path = "/nonexistent-cospace-dir/plot.svg"
    run = subprocess.run(tool + ["plot", "--svg", path, "--quick"], capture_output=True, text=True, timeout=60)
    lines = run.stderr.strip().splitlines()
    if run.returncode != 2 or len(lines) != 1 or path not in lines[0]:
        fail("expected exit code 2 and one line naming %s, got %d and %r" % (path, run.returncode, run.stderr))
    print("ok: " + lines[0])


if __name__ == "__main__":
    checks = {"json": lambda d, t: check_json(t), "svg": check_svg, "unwritable": lambda d, t: check_unwritable(t)}
    if len(sys.argv) < 4 or sys.argv[1] not in checks:
        print(__doc__)
        sys.exit(2)
    checks[sys.argv[1]](sys.argv[2], sys.argv[3:])
