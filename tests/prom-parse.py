#!/usr/bin/python3
# prom-parse.py - checks a Prometheus text exposition (bc26ctl metrics' output) with a real
# parser of the format, prometheus_client.parser from Debian's python3-prometheus-client, and
# adds what that lenient parser lets through: every family has # HELP and # TYPE (not untyped),
# no family is declared twice, no sample (name and labels) repeats.
# Usage: prom-parse.py FILE ("-" for stdin). Exit 0 valid; 1 invalid or the module is missing.
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    print("prom-parse.py: the Python module prometheus_client is missing: "
          "install python3-prometheus-client (apt-get install python3-prometheus-client)",
          file=sys.stderr)
    sys.exit(1)


def check(text):
    """Return a list of problems; empty when text is valid."""
    problems = []
    seen_families = set()
    seen_samples = set()
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError and others on bad input
        return ["parser: %s: %s" % (type(e).__name__, e)]
    if not families:
        problems.append("no metric families")
    for f in families:
        if f.name in seen_families:
            problems.append("family %s appears twice" % f.name)
        seen_families.add(f.name)
        if not f.documentation:
            problems.append("family %s has no # HELP" % f.name)
        if f.type in ("unknown", "untyped"):
            problems.append("family %s has no # TYPE" % f.name)
        for s in f.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in seen_samples:
                problems.append("sample %s%s appears twice" % (s.name, s.labels))
            seen_samples.add(key)
            if s.timestamp is not None:
                problems.append("sample %s%s has a timestamp" % (s.name, s.labels))
    return problems


def main():
    if len(sys.argv) != 2:
        print("usage: prom-parse.py FILE", file=sys.stderr)
        return 2
    try:
        if sys.argv[1] == "-":
            text = sys.stdin.read()
        else:
            with open(sys.argv[1], encoding="utf-8") as f:
                text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        print("prom-parse.py: %s" % e, file=sys.stderr)
        return 1
    problems = check(text)
    for p in problems:
        print("prom-parse.py: %s: %s" % (sys.argv[1], p), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
